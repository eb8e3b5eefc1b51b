package sheetrun

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		script  string
		codes   []int
		code    int
		success bool
	}{
		{"exit 0", nil, 0, true},
		{"exit 3", nil, 3, false},
		{"exit 3", []int{0, 3}, 3, true},
		{"exit 0", []int{1}, 0, false},
	} {
		s := spec(t, "bash", "-c", tc.script)
		s.SuccessCodes = tc.codes
		r := Run(context.Background(), s)
		if r.Err != nil || r.ExitCode != tc.code || r.Success != tc.success || r.Signal != "" {
			t.Errorf("%q codes %v: got %+v, want exit %d success %v", tc.script, tc.codes, r, tc.code, tc.success)
		}
		if r.Started.IsZero() || r.Ended.Before(r.Started) {
			t.Errorf("%q: bad times %v .. %v", tc.script, r.Started, r.Ended)
		}
	}
}

func TestRunStreamsOutputToFiles(t *testing.T) {
	t.Parallel()
	s := spec(t, "bash", "-c", "echo out; echo err >&2; printf 'é%.0s' {1..3000}")
	r := Run(context.Background(), s)
	if !r.Success {
		t.Fatalf("result %+v", r)
	}
	if r.StderrTail != "err\n" {
		t.Errorf("stderr tail %q", r.StderrTail)
	}
	if got, _ := os.ReadFile(s.StderrPath); string(got) != "err\n" {
		t.Errorf("stderr file %q", got)
	}
	// 4 + 6000 bytes of two-byte runes: the tail is cut, but never inside a rune.
	if len(r.StdoutTail) > TailSize || len(r.StdoutTail) < TailSize-1 || !strings.HasPrefix(r.StdoutTail, "é") {
		t.Errorf("stdout tail: %d bytes, starts %q", len(r.StdoutTail), r.StdoutTail[:4])
	}
}

func TestRunSharedLogFile(t *testing.T) {
	t.Parallel()
	s := spec(t, "bash", "-c", "echo one; echo two >&2; echo three")
	s.StderrPath = s.StdoutPath
	r := Run(context.Background(), s)
	if !r.Success || r.StdoutTail != "one\ntwo\nthree\n" || r.StderrTail != "" {
		t.Fatalf("result %+v", r)
	}
}

func TestRunLargeOutputKeepsMemoryFlat(t *testing.T) {
	const size = 50_000_000
	s := spec(t, "bash", "-c", "yes | head -c "+strconv.Itoa(size))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := Run(context.Background(), s)
	runtime.ReadMemStats(&after)
	if !r.Success {
		t.Fatalf("result %+v", r)
	}
	st, err := os.Stat(s.StdoutPath)
	if err != nil || st.Size() != size {
		t.Fatalf("stdout file: %v, %d bytes", err, st.Size())
	}
	if r.StdoutTail != strings.Repeat("y\n", TailSize/2) {
		t.Errorf("tail is %d bytes, not the last %d of the output", len(r.StdoutTail), TailSize)
	}
	// Not a timing check: the output must not have passed through our heap.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Run allocated %d bytes for a %d-byte output", alloc, size)
	}
}

func TestRunWritesStdin(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("prompt line\n", 100_000) // well over a pipe buffer
	s := spec(t, "bash", "-c", "cat > in.txt")
	s.Stdin = big
	if r := Run(context.Background(), s); !r.Success {
		t.Fatalf("result %+v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Dir, "in.txt")); string(got) != big {
		t.Errorf("child read %d bytes of %d", len(got), len(big))
	}

	// A child that never reads its stdin must not make Run hang.
	s = spec(t, "bash", "-c", "exit 0")
	s.Stdin = big
	if r := Run(context.Background(), s); !r.Success {
		t.Fatalf("result %+v", r)
	}
}

func TestRunFakeAgent(t *testing.T) {
	t.Parallel()
	s := agentSpec(t, "Sheet 1 of 1.\n  @write out/a.txt hello\\nworld\n@stdout hi\n@stderr oops\n@exit 4\n@stdout never")
	r := Run(context.Background(), s)
	if r.ExitCode != 4 || r.Success || r.StdoutTail != "hi\n" || r.StderrTail != "oops\n" {
		t.Fatalf("result %+v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Dir, "out/a.txt")); string(got) != "hello\nworld" {
		t.Errorf("a.txt = %q", got)
	}
}

func TestFakeAgentPromptSources(t *testing.T) {
	t.Parallel()
	s := spec(t, fakeAgent, "--print", "@stdout from arg")
	if r := Run(context.Background(), s); r.StdoutTail != "from arg\n" {
		t.Errorf("arg prompt: %+v", r)
	}
	s = spec(t, fakeAgent)
	pf := filepath.Join(s.Dir, "prompt.txt")
	if err := os.WriteFile(pf, []byte("@stdout from file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Argv = append(s.Argv, "--prompt-file", pf)
	if r := Run(context.Background(), s); r.StdoutTail != "from file\n" {
		t.Errorf("file prompt: %+v", r)
	}
}

func TestRunTimeoutEscalatesToKill(t *testing.T) {
	t.Parallel()
	// The agent and its child both ignore SIGTERM (the child inherits the disposition).
	s := agentSpec(t, "@ignore-term\n@spawn-child 60s\n@sleep 60s")
	s.Timeout = time.Second
	r := Run(context.Background(), s)
	if !r.TimedOut || r.Canceled || r.Success || r.ExitCode != -1 || r.Signal != "killed" || r.Err != nil {
		t.Fatalf("result %+v", r)
	}
	child := readPID(t, filepath.Join(s.Dir, "child.pid"))
	killLater(t, child)
	waitGone(t, child)
}

func TestRunTimeoutKillsChildThatIgnoresTerm(t *testing.T) {
	t.Parallel()
	// The leader dies of SIGTERM at once; its child ignores it and must be killed after the grace.
	s := spec(t, "bash", "-c", `(trap "" TERM; exec sleep 60) & echo $! > child.pid; exec sleep 60`)
	s.Timeout = time.Second
	r := Run(context.Background(), s)
	if !r.TimedOut || r.Signal != "terminated" || r.Success {
		t.Fatalf("result %+v", r)
	}
	child := readPID(t, filepath.Join(s.Dir, "child.pid"))
	killLater(t, child)
	waitGone(t, child)
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	s := agentSpec(t, "@spawn-child 60s\n@stdout ready\n@sleep 60s")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan Proc, 1)
	s.Started = func(p Proc) { started <- p }
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, s) }()

	select {
	case <-started:
	case r := <-done:
		t.Fatalf("Run returned before starting: %+v", r)
	case <-time.After(10 * time.Second):
		t.Fatal("Started was not called")
	}
	pidFile := filepath.Join(s.Dir, "child.pid")
	waitFor(t, 10*time.Second, "the child to be spawned", func() bool {
		b, err := os.ReadFile(pidFile)
		return err == nil && len(b) > 0
	})
	child := readPID(t, pidFile)
	killLater(t, child)
	cancel()

	var r Result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !r.Canceled || r.TimedOut || r.Success || r.Signal != "terminated" {
		t.Fatalf("result %+v", r)
	}
	waitGone(t, child)
}

func TestRunAlreadyCanceled(t *testing.T) {
	t.Parallel()
	s := spec(t, "bash", "-c", "touch ran")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := Run(ctx, s)
	if !r.Canceled || r.Success || r.Err != nil {
		t.Fatalf("result %+v", r)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "ran")); err == nil {
		t.Error("the process ran although the context was already canceled")
	}
}

func TestRunKillsGroupLeftoversAfterExit(t *testing.T) {
	t.Parallel()
	s := agentSpec(t, "@spawn-child 60s\n@stdout bye")
	r := Run(context.Background(), s)
	if !r.Success {
		t.Fatalf("result %+v", r)
	}
	child := readPID(t, filepath.Join(s.Dir, "child.pid"))
	killLater(t, child)
	waitGone(t, child)
}

func TestRunOrphanHoldingOutputDoesNotHang(t *testing.T) {
	t.Parallel()
	// The orphan left the group (setsid) and keeps the stdout file open: not ours to kill, and
	// it must not keep Run waiting.
	s := agentSpec(t, "@spawn-orphan 60s\n@stdout done")
	done := make(chan Result, 1)
	go func() { done <- Run(context.Background(), s) }()
	var r Result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run hangs on an orphan holding its output")
	}
	orphan := readPID(t, filepath.Join(s.Dir, "orphan.pid"))
	killLater(t, orphan)
	if !r.Success || r.StdoutTail != "done\n" {
		t.Fatalf("result %+v", r)
	}
}

func TestRunStartErrors(t *testing.T) {
	t.Parallel()
	s := spec(t, "mzt-no-such-instrument")
	r := Run(context.Background(), s)
	if r.Err == nil || !strings.Contains(r.Err.Error(), `executable "mzt-no-such-instrument" not found`) ||
		r.ExitCode != -1 || r.Success {
		t.Errorf("missing executable: %+v", r)
	}

	s = spec(t, "bash", "-c", "true")
	s.Dir = filepath.Join(s.Dir, "vanished")
	r = Run(context.Background(), s)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "workspace") || !strings.Contains(r.Err.Error(), "does not exist") {
		t.Errorf("vanished workspace: %+v", r)
	}

	s = spec(t, "bash", "-c", "true")
	s.Dir = s.StdoutPath
	_ = os.MkdirAll(filepath.Dir(s.Dir), 0o755)
	_ = os.WriteFile(s.Dir, nil, 0o644)
	s.StdoutPath = ""
	if r = Run(context.Background(), s); r.Err == nil || !strings.Contains(r.Err.Error(), "not a directory") {
		t.Errorf("workspace is a file: %+v", r)
	}

	if r = Run(context.Background(), Spec{Dir: t.TempDir()}); r.Err == nil || r.Success {
		t.Errorf("empty argv: %+v", r)
	}
}

func TestRunUsesPathFromEnv(t *testing.T) {
	t.Parallel()
	s := spec(t, "mzt-private-agent")
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "mzt-private-agent"), []byte("#!/bin/sh\necho private\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s.Env = append(s.Env, "PATH="+bin+":"+os.Getenv("PATH"))
	if r := Run(context.Background(), s); !r.Success || r.StdoutTail != "private\n" {
		t.Fatalf("result %+v", r)
	}
}

func TestRunStartedIdentifiesProcess(t *testing.T) {
	t.Parallel()
	s := spec(t, "bash", "-c", `read -r l < /proc/$$/stat; echo "$l"`)
	var got Proc
	var hookTicks uint64
	var hookPgid int
	s.Started = func(p Proc) {
		got = p
		hookTicks, _ = ProcStartTicks(p.PID)
		hookPgid, _ = syscall.Getpgid(p.PID)
	}
	r := Run(context.Background(), s)
	if !r.Success {
		t.Fatalf("result %+v", r)
	}
	// The process's own view of itself; bash's comm has no spaces, so a plain split is fine.
	f := strings.Fields(r.StdoutTail)
	if len(f) < 22 {
		t.Fatalf("stat line %q", r.StdoutTail)
	}
	pid, _ := strconv.Atoi(f[0])
	pgrp, _ := strconv.Atoi(f[4])
	ticks, _ := strconv.ParseUint(f[21], 10, 64)
	if got.PID != pid || got.PGID != pgrp || got.PGID != got.PID || got.StartTicks != ticks || ticks == 0 {
		t.Errorf("Started got %+v, process says pid %d pgrp %d ticks %d", got, pid, pgrp, ticks)
	}
	if hookTicks != got.StartTicks || hookPgid != got.PGID {
		t.Errorf("during Started: ticks %d pgid %d, Proc %+v", hookTicks, hookPgid, got)
	}
}

func TestRunStartedPanicKillsProcess(t *testing.T) {
	t.Parallel()
	s := spec(t, "sleep", "60")
	var pid int
	s.Started = func(p Proc) {
		pid = p.PID
		panic("boom")
	}
	r := Run(context.Background(), s)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "boom") || r.Success {
		t.Fatalf("result %+v", r)
	}
	waitGone(t, pid)
}

func TestProcStartTicks(t *testing.T) {
	t.Parallel()
	self, err := ProcStartTicks(os.Getpid())
	if err != nil || self == 0 {
		t.Fatalf("own start ticks: %d, %v", self, err)
	}
	// A command name with spaces and parentheses must not shift the fields.
	dir := t.TempDir()
	odd := filepath.Join(dir, "a) (b c")
	data, err := os.ReadFile(fakeAgent)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s := spec(t, odd)
	s.Stdin = "@sleep 60s"
	ctx, cancel := context.WithCancel(context.Background())
	var ticks uint64
	var tickErr error
	var comm []byte
	s.Started = func(p Proc) {
		ticks, tickErr = ProcStartTicks(p.PID)
		comm, _ = os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/comm")
		cancel()
	}
	Run(ctx, s)
	if tickErr != nil || ticks < self {
		t.Errorf("child ticks %d (%v), own %d", ticks, tickErr, self)
	}
	if !bytes.Contains(comm, []byte(") (")) {
		t.Errorf("comm %q does not exercise the parser", comm)
	}
	if _, err := ProcStartTicks(1 << 30); err == nil {
		t.Error("no error for a pid that cannot exist")
	}
}

func TestKillGroup(t *testing.T) {
	t.Parallel()
	for _, bad := range []int{-5, 0, 1} {
		if err := KillGroup(bad, time.Second); err == nil {
			t.Errorf("KillGroup(%d) did not refuse", bad)
		}
	}
	own, _ := syscall.Getpgid(0)
	if err := KillGroup(own, time.Second); err == nil {
		t.Error("KillGroup on our own group did not refuse")
	}

	// A group whose members ignore SIGTERM, as a crashed conductor's sheet might leave behind.
	s := spec(t, "bash", "-c", `trap "" TERM; sleep 60 & echo $! > child.pid; sleep 60 & wait`)
	pgid := make(chan int, 1)
	s.Started = func(p Proc) { pgid <- p.PGID }
	done := make(chan Result, 1)
	go func() { done <- Run(context.Background(), s) }()
	g := <-pgid
	pidFile := filepath.Join(s.Dir, "child.pid")
	waitFor(t, 10*time.Second, "the child to start", func() bool {
		b, err := os.ReadFile(pidFile)
		return err == nil && len(b) > 0
	})
	child := readPID(t, pidFile)
	killLater(t, child)
	if err := KillGroup(g, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.Signal != "killed" {
			t.Errorf("leader: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("leader survived KillGroup")
	}
	waitGone(t, child)
	if err := KillGroup(g, time.Second); err != nil {
		t.Errorf("KillGroup on an empty group: %v", err)
	}
}
