package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/pidfile"
	"github.com/mzt-dev/mzt/internal/proctable"
	"github.com/mzt-dev/mzt/messages"
	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/protobuf/encoding/protowire"
)

// binDir holds the mzt, mzt-conductor and fakeagent binaries the scripts run: the real
// binaries, built once, so every script is a user session.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "mztbin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		for pkg, name := range map[string]string{".": "mzt", "../mzt-conductor": "mzt-conductor", "../../testdata/fakeagent": "fakeagent",
			"../../testdata/anthropicmock": "anthropicmock"} {
			out, err := exec.Command("go", "build", "-race", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
			if err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", name, err, out)
				return 1
			}
		}
		return m.Run()
	}())
}

func TestScripts(t *testing.T) {
	root, err := os.MkdirTemp("/tmp", "mzt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	testscript.Run(t, testscript.Params{
		Dir:         "../../testdata/script",
		WorkdirRoot: root,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+":"+env.Getenv("PATH"))
			env.Setenv("BINDIR", binDir)
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("MARIANNE_HOME", home)
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("MZT_CLONE", "")
			// Race-built binaries otherwise sleep a second at exit.
			env.Setenv("GORACE", "atexit_sleep_ms=0")
			if c := realClaude(); c != "" {
				env.Setenv("CLAUDE_DIR", filepath.Dir(c))
			}
			env.Defer(func() { stopAll(home) })
			return nil
		},
		Cmds: scriptCmds,
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Getuid() == 0, nil
			case "netns":
				return canNetns(), nil
			case "cgroup2":
				return canCgroup2(), nil
			case "cgroup-pids", "cgroup-memory": // sheets can be given pids.max / memory.max
				c, err := cgroup.Delegated()
				return err == nil && (cond == "cgroup-pids" && c.Pids || cond == "cgroup-memory" && c.Memory), nil
			case "ipv6":
				return hasIPv6Loopback(), nil
			case "claude": // the real claude CLI (MZT_REAL_CLAUDE or on PATH)
				return realClaude() != "", nil
			case "etcd": // MZT_ETCD or etcd on PATH (script_fleet_test.go)
				return haveEtcd(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// scriptCmds are the commands scripts have beyond testscript's own. Other
// test files of this package add theirs in an init function.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"waitjob":    cmdWaitJob,
	"conductor":  cmdConductor,
	"waitfile":   cmdWaitFile,
	"pidalive":   cmdPIDAlive,
	"frame":      cmdFrame,
	"idleconns":  cmdIdleConns,
	"concurrent": cmdConcurrent,
	"waitlog":    cmdWaitLog,
}

// stopAll makes sure no conductor (default or clone) outlives its script,
// nor any sheet process of one: a script that failed half-way must not leave
// work running on the machine.
func stopAll(home string) {
	filepath.Walk(home, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.Name() != "conductor.pid" {
			return nil
		}
		if pid := readPID(path); pid > 0 {
			killTree(pid)
		}
		return nil
	})
}

// killTree kills pid and every process below it, each with its process group.
func killTree(pid int) {
	// Freeze first: a supervisor may fork a try between a look at the tree
	// and its own death, and that try, reparented away, would outlive the
	// "kill". Stopped processes cannot fork, so look again until no new
	// process appears, then kill every one of them and their groups.
	own := syscall.Getpgrp()
	stopped := map[int]bool{pid: true}
	syscall.Kill(pid, syscall.SIGSTOP)
	for range 100 {
		table, err := proctable.Snapshot()
		if err != nil {
			break
		}
		fresh := false
		for _, d := range table.Descendants(pid) {
			if !stopped[d] {
				syscall.Kill(d, syscall.SIGSTOP)
				stopped[d], fresh = true, true
			}
		}
		if !fresh {
			break
		}
	}
	for d := range stopped {
		if pg, err := syscall.Getpgid(d); err == nil && pg > 0 && pg != own {
			syscall.Kill(-pg, syscall.SIGKILL)
		}
		syscall.Kill(d, syscall.SIGKILL)
	}
}

func readPID(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie is dead for our purposes.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(string(data[i+1:])), "Z")
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mztCmd(ts *testscript.TestScript, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "mzt"), args...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = append(os.Environ(), "MARIANNE_HOME="+ts.Getenv("MARIANNE_HOME"), "MZT_CLONE="+ts.Getenv("MZT_CLONE"),
		"PATH="+ts.Getenv("PATH"), "HOME="+ts.Getenv("HOME"), "GORACE=atexit_sleep_ms=0")
	return cmd
}

// waitjob JOB STATUS [TIMEOUT]: wait until `mzt status JOB --json` reports STATUS.
func cmdWaitJob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitjob JOB STATUS [TIMEOUT]")
	}
	timeout := argTimeout(ts, args, 2, 60*time.Second)
	var last string
	ok := waitUntil(timeout, func() bool {
		out, err := mztCmd(ts, "status", args[0], "--json").Output()
		if err != nil {
			last = err.Error()
			return false
		}
		var st struct {
			Status string `json:"status"`
		}
		json.Unmarshal(out, &st)
		last = st.Status
		return st.Status == args[1]
	})
	if ok == neg {
		ts.Fatalf("job %s: status %q after %s (wanted %q)", args[0], last, timeout, args[1])
	}
}

func conductorPIDFile(ts *testscript.TestScript) string {
	home := ts.Getenv("MARIANNE_HOME")
	if c := ts.Getenv("MZT_CLONE"); c != "" {
		home = filepath.Join(home, "clones", c)
	}
	return filepath.Join(home, "conductor.pid")
}

// conductor kill9|TERM|INT|HUP|USR1|waitexit|pid: act on the running conductor.
func cmdConductor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: conductor kill9|TERM|INT|HUP|waitexit")
	}
	pidFile := conductorPIDFile(ts)
	pid := readPID(pidFile)
	sigs := map[string]syscall.Signal{"kill9": syscall.SIGKILL, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT,
		"HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1}
	switch args[0] {
	case "waitexit":
		if !waitUntil(30*time.Second, func() bool {
			st, err := pidfile.Inspect(pidFile)
			return err == nil && !st.Running && !alive(pid)
		}) {
			ts.Fatalf("conductor %d still alive", pid)
		}
	default:
		sig, ok := sigs[args[0]]
		if !ok || pid == 0 {
			ts.Fatalf("no conductor to signal (pid %d) or unknown signal %s", pid, args[0])
		}
		ts.Check(syscall.Kill(pid, sig))
		// A killed leader turns zombie before its other threads are gone;
		// the PID file's lock is free only once the last one is.
		if sig == syscall.SIGKILL && !waitUntil(10*time.Second, func() bool {
			st, err := pidfile.Inspect(pidFile)
			return err == nil && !st.Running
		}) {
			ts.Fatalf("conductor %d survived SIGKILL", pid)
		}
	}
}

// waitfile [!] FILE [TIMEOUT]: wait until FILE exists (or, negated, is gone).
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	path := ts.MkAbs(args[0])
	if !waitUntil(timeout, func() bool { _, err := os.Stat(path); return (err == nil) != neg }) {
		ts.Fatalf("%s: still %s after %s", path, map[bool]string{false: "missing", true: "present"}[neg], timeout)
	}
}

// pidalive [!] FILE: the process whose PID is in FILE is alive; negated, it
// dies within 15 s.
func cmdPIDAlive(ts *testscript.TestScript, neg bool, args []string) {
	// A sheet writes its PID with `echo $$ > FILE`: the file exists, empty,
	// a moment before the number is in it.
	path := ts.MkAbs(args[0])
	var pid int
	if !waitUntil(5*time.Second, func() bool { pid = readPID(path); return pid > 0 }) {
		ts.Fatalf("no pid in %s", args[0])
	}
	if neg {
		if !waitUntil(15*time.Second, func() bool { return !alive(pid) }) {
			ts.Fatalf("process %d is still alive", pid)
		}
		return
	}
	if !alive(pid) {
		ts.Fatalf("process %d is not alive", pid)
	}
}

func socketPath(ts *testscript.TestScript) string {
	return filepath.Join(filepath.Dir(conductorPIDFile(ts)), "conductor.sock")
}

// frame garbage|truncated|oversized|unknown|badversion: send a bad frame and
// print the conductor's answer (if any) to stdout.
func cmdFrame(ts *testscript.TestScript, neg bool, args []string) {
	conn, err := net.Dial("unix", socketPath(ts))
	ts.Check(err)
	defer conn.Close()
	var payload []byte
	switch args[0] {
	case "garbage":
		// A valid length, then bytes that are not an Envelope.
		payload = protowire.AppendVarint(nil, 8)
		payload = append(payload, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	case "truncated":
		payload = protowire.AppendVarint(nil, 100)
		payload = append(payload, []byte("short")...)
	case "oversized":
		payload = protowire.AppendVarint(nil, 64<<20)
	case "unknown":
		// Field 999 is no body this conductor knows.
		env := protowire.AppendTag(nil, 999, protowire.BytesType)
		env = protowire.AppendBytes(env, []byte{})
		env = protowire.AppendTag(env, 1, protowire.VarintType)
		env = protowire.AppendVarint(env, 7)
		env = protowire.AppendTag(env, 2, protowire.VarintType)
		env = protowire.AppendVarint(env, messages.ProtocolVersion)
		payload = protowire.AppendVarint(nil, uint64(len(env)))
		payload = append(payload, env...)
	default:
		ts.Fatalf("unknown frame kind %s", args[0])
	}
	_, err = conn.Write(payload)
	ts.Check(err)
	if args[0] == "truncated" {
		conn.(*net.UnixConn).CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var env messages.Envelope
	if err := messages.ReadFrame(bufio.NewReader(conn), &env); err != nil {
		fmt.Fprintf(ts.Stdout(), "no answer: %v\n", err)
		return
	}
	fmt.Fprintf(ts.Stdout(), "code=%s message=%s\n", env.GetError().GetCode(), env.GetError().GetMessage())
}

// idleconns N: open N connections that send nothing, held until the script ends.
func cmdIdleConns(ts *testscript.TestScript, neg bool, args []string) {
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	for range n {
		c, err := net.Dial("unix", socketPath(ts))
		ts.Check(err)
		ts.Defer(func() { c.Close() })
	}
}

// concurrent N mzt ARGS...: run N copies at once; prints "exit=CODE" counts.
func cmdConcurrent(ts *testscript.TestScript, neg bool, args []string) {
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := mztCmd(ts, args[2:]...)
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for code := -1; code < 3; code++ {
		if codes[code] > 0 {
			fmt.Fprintf(ts.Stdout(), "exit=%d x%d\n", code, codes[code])
		}
	}
}

// waitlog FILE REGEXP: wait until a line of FILE matches REGEXP.
func cmdWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	if !waitUntil(15*time.Second, func() bool {
		data, _ := os.ReadFile(path)
		return re.Match(data)
	}) {
		ts.Fatalf("%s: no line matches %s", args[0], args[1])
	}
}

// argTimeout is the optional duration args[i] of a wait command, else def.
func argTimeout(ts *testscript.TestScript, args []string, i int, def time.Duration) time.Duration {
	if len(args) <= i {
		return def
	}
	d, err := time.ParseDuration(args[i])
	if err != nil {
		ts.Fatalf("timeout %q: %v", args[i], err)
	}
	return d
}
