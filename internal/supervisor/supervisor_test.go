package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/internal/tryjournal"
)

// The supervisor runs in a process of its own, as in production: the test
// binary re-executed with serveEnv set.
const serveEnv = "MZT_SUPERVISOR_TEST_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		if err := Serve(context.Background(), Config{Dir: dir, Version: "test-1"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// spawn starts a supervisor process serving in a fresh folder.
func spawn(t testing.TB) (Client, *exec.Cmd, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sup")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := Client{Path: SocketPath(dir, cmd.Process.Pid)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.Hello(context.Background()); err == nil {
			return c, cmd, dir
		}
		if time.Now().After(deadline) {
			t.Fatal("supervisor did not answer")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shellTry(t *testing.T, token, script string) TrySpec {
	dir := t.TempDir()
	base := filepath.Join(dir, "try")
	return TrySpec{Token: token, Argv: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"},
		Dir: dir, StdoutPath: base + ".stdout", StderrPath: base + ".stderr", ExitPath: base + ".exit",
		StartedUnixMS: time.Now().UnixMilli()}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTryRunsDirectlyWithItsFilesAndExitRecorded(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	spec := shellTry(t, "run/1/1", `echo "pid $$"; read x; echo "in $x"; echo oops >&2; exit 3`)
	spec.Stdin = "hello\n"
	p, err := c.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.PGID != p.PID || p.StartTicks == 0 {
		t.Errorf("proc %+v: want its own group and a start time", p)
	}
	ex, err := c.Wait(ctx, spec.Token)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Code != 3 || ex.Signal != "" || !ex.Recorded {
		t.Errorf("exit %+v, want code 3 recorded", ex)
	}
	// No wrapper: the process forked is the instrument itself.
	if got, want := readFile(t, spec.StdoutPath), fmt.Sprintf("pid %d\nin hello\n", p.PID); got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got := readFile(t, spec.StderrPath); got != "oops\n" {
		t.Errorf("stderr %q", got)
	}
	if got := readFile(t, spec.ExitPath); got != "3\n" {
		t.Errorf("exit file %q", got)
	}
	if fi, _ := os.Stat(spec.StdoutPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("stdout mode %v, want 0600", fi.Mode().Perm())
	}
}

// A conductor that goes away mid-try (restart, crash) leaves the try
// running; the next one finds it, waits, and gets its exit.
func TestTryOutlivesItsConductorAndIsAdopted(t *testing.T) {
	c, cmd, dir := spawn(t)
	spec := shellTry(t, "run/2/1", `echo start; sleep 0.5; echo end; exit 7`)
	p, err := c.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	first, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := c.Wait(first, spec.Token); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait after the conductor left: %v", err)
	}
	if err := syscall.Kill(p.PID, 0); err != nil {
		t.Fatalf("the try died with its conductor: %v", err)
	}
	found := Find(context.Background(), dir)
	if len(found) != 1 || found[0].Hello == nil || found[0].Hello.PID != cmd.Process.Pid || found[0].Hello.Version != "test-1" {
		t.Fatalf("found %+v", found)
	}
	tries := found[0].Hello.Tries
	if len(tries) != 1 || tries[0].Proc != p || tries[0].Spec.Token != spec.Token || tries[0].Exit != nil {
		t.Fatalf("tries %+v, want the live try %+v", tries, p)
	}
	ex, err := found[0].Wait(context.Background(), spec.Token)
	if err != nil || ex.Code != 7 {
		t.Fatalf("adopted wait: %+v %v", ex, err)
	}
	if got := readFile(t, spec.StdoutPath); got != "start\nend\n" {
		t.Errorf("output %q: not contiguous", got)
	}
}

// With nobody waiting the exit is still recorded, and kept for a late
// conductor to collect.
func TestExitRecordedWithNobodyWaiting(t *testing.T) {
	c, _, _ := spawn(t)
	spec := shellTry(t, "run/3/1", `exit 0`)
	if _, err := c.Start(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := os.ReadFile(spec.ExitPath); err == nil {
			if string(b) != "0\n" {
				t.Fatalf("exit file %q", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no exit file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ex, err := c.Wait(context.Background(), spec.Token)
	if err != nil || ex.Code != 0 || !ex.Recorded {
		t.Fatalf("late wait: %+v %v", ex, err)
	}
	// Collected (right after the reply went out): a later wait knows nothing of it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, err := c.Wait(context.Background(), spec.Token)
		if errors.Is(err, ErrRefused) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second wait: %v", err)
		}
	}
}

// Stop reaches the whole group, SIGKILL after the grace when SIGTERM is
// ignored, and the exit file says killed (above 128).
func TestStopKillsTheGroupAfterGrace(t *testing.T) {
	c, _, _ := spawn(t)
	spec := shellTry(t, "run/4/1", `trap '' TERM; sleep 30 & echo $! >child; wait`)
	p, err := c.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	childFile := filepath.Join(spec.Dir, "child")
	var child int
	for deadline := time.Now().Add(5 * time.Second); child == 0; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(childFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(deadline) {
			t.Fatal("no child")
		}
	}
	begin := time.Now()
	if err := c.Stop(context.Background(), spec.Token, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ex, err := c.Wait(context.Background(), spec.Token)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Signal != "killed" || time.Since(begin) < 200*time.Millisecond {
		t.Errorf("exit %+v after %v: want killed after the grace", ex, time.Since(begin))
	}
	if got := readFile(t, spec.ExitPath); got != "137\n" {
		t.Errorf("exit file %q, want 137", got)
	}
	// The group got SIGKILL; the child is gone once the kernel has torn it
	// down, which a loaded machine may take a moment to do.
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(child, 0) == nil && procAlive(child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the try's child %d (group %d) survived", child, p.PGID)
			break
		}
	}
}

func procAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && !strings.HasPrefix(string(b[i+2:]), "Z")
}

// A child that left the try's group and session is reparented to the
// supervisor (its subreaper), which reaps it: no zombie piles up.
func TestOrphansAreReaped(t *testing.T) {
	c, cmd, _ := spawn(t)
	spec := shellTry(t, "run/5/1", `setsid sh -c 'sleep 0.2' & exit 0`)
	if _, err := c.Start(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(context.Background(), spec.Token); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if strings.TrimSpace(string(kids)) == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("supervisor still has children %q", kids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A conductor speaking another protocol version is refused with a reason.
func TestOtherProtocolVersionRefused(t *testing.T) {
	c, _, _ := spawn(t)
	conn, err := net.Dial("unix", c.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = exchange(conn.(*net.UnixConn), bufio.NewReader(conn), Request{V: ProtocolVersion + 1, Op: OpHello})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), fmt.Sprintf("protocol version %d is not supported", ProtocolVersion+1)) {
		t.Fatalf("got %v", err)
	}
}

// The socket is the user's alone.
func TestSocketIsPrivate(t *testing.T) {
	c, _, dir := spawn(t)
	for p, want := range map[string]os.FileMode{c.Path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
}

// A supervisor killed -9 leaves a socket nobody answers: Find drops it, and
// its tries are for crash recovery.
func TestDeadSupervisorIsForgotten(t *testing.T) {
	c, cmd, dir := spawn(t)
	cmd.Process.Kill()
	cmd.Wait()
	if found := Find(context.Background(), dir); len(found) != 0 {
		t.Fatalf("found %+v", found)
	}
	if _, err := os.Stat(c.Path); !os.IsNotExist(err) {
		t.Errorf("stale socket kept: %v", err)
	}
}

// An oversized frame is refused, not buffered.
func TestFrameBound(t *testing.T) {
	r := bufio.NewReader(strings.NewReader(strings.Repeat("x", MaxFrame+10) + "\n"))
	var req Request
	if err := readFrame(r, &req); !errors.Is(err, errFrameTooBig) {
		t.Fatalf("got %v", err)
	}
}

// What escaped a try (its own session) lives while the try does and is
// stopped once it ended; the supervisor, its subreaper, finds it by token.
func TestEscapeesOfAnEndedTryAreStopped(t *testing.T) {
	c, _, _ := spawn(t)
	spec := shellTry(t, "run/6/1", `setsid sleep 30 & echo $! >esc; sleep 1`)
	spec.Env = append(spec.Env, TokenEnv+"=run/6/1")
	if _, err := c.Start(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	escFile := filepath.Join(spec.Dir, "esc")
	var esc int
	for deadline := time.Now().Add(5 * time.Second); esc == 0; time.Sleep(5 * time.Millisecond) {
		b, _ := os.ReadFile(escFile)
		esc, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if time.Now().After(deadline) {
			t.Fatal("no escapee")
		}
	}
	time.Sleep(600 * time.Millisecond) // a sweep or more while the try runs
	if !procAlive(esc) {
		t.Fatal("the escapee of a live try was killed")
	}
	if _, err := c.Wait(context.Background(), spec.Token); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for procAlive(esc) {
		if time.Now().After(deadline) {
			t.Fatalf("escapee %d of the ended try still runs", esc)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkStartWait is one trivial try through the supervisor: start, wait.
func BenchmarkStartWait(b *testing.B) {
	c, _, _ := spawn(b)
	dir := b.TempDir()
	for i := range b.N {
		tok := fmt.Sprintf("bench/1/%d", i)
		spec := TrySpec{Token: tok, Argv: []string{"/bin/true"}, Dir: dir,
			StdoutPath: filepath.Join(dir, "out"), StderrPath: filepath.Join(dir, "out"), ExitPath: filepath.Join(dir, "exit")}
		if _, err := c.Start(context.Background(), spec); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Wait(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// Tries started while the orphan sweep runs are never taken for orphans:
// many short tries back to back all exit on their own.
func TestSweepNeverHitsANewTry(t *testing.T) {
	c, _, _ := spawn(t)
	dir := t.TempDir()
	for i := range 300 {
		tok := fmt.Sprintf("sweep/1/%d", i)
		spec := TrySpec{Token: tok, Argv: []string{"/bin/sh", "-c", "exit 0"}, Dir: dir,
			Env:        []string{TokenEnv + "=" + tok},
			StdoutPath: filepath.Join(dir, "out"), StderrPath: filepath.Join(dir, "out"), ExitPath: filepath.Join(dir, "exit")}
		if _, err := c.Start(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		ex, err := c.Wait(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Code != 0 || ex.Signal != "" {
			t.Fatalf("try %d ended %+v: taken for an orphan", i, ex)
		}
	}
}

// With an exit journal named, the exit goes there (one append, no file
// of its own) before the conductor hears it, a kill as a shell reports it.
func TestExitRecordedInTheRunsJournal(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	spec := shellTry(t, "run/3/1", `exit 4`)
	spec.ExitJournal = filepath.Join(filepath.Dir(spec.ExitPath), tryjournal.Name)
	killed := shellTry(t, "run/4/1", `kill -9 $$`)
	killed.ExitPath = filepath.Join(filepath.Dir(spec.ExitPath), "killed.exit")
	killed.ExitJournal = spec.ExitJournal
	for _, s := range []TrySpec{spec, killed} {
		if _, err := c.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		ex, err := c.Wait(ctx, s.Token)
		if err != nil || !ex.Recorded {
			t.Fatalf("exit %+v, %v: want it recorded", ex, err)
		}
	}
	if _, err := os.Stat(spec.ExitPath); !os.IsNotExist(err) {
		t.Errorf("an exit file was written too: %v", err)
	}
	got := tryjournal.ReadExits(spec.ExitJournal)
	if e := got["try.exit"]; e.Code != 4 || e.Ended.IsZero() {
		t.Errorf("journal record of the try: %+v (all: %v)", e, got)
	}
	if e := got["killed.exit"]; e.Code != 128+9 {
		t.Errorf("journal record of the killed try: %+v, want 137", e)
	}
}
