package sheetrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeAgent is the path of testdata/fakeagent, built once by TestMain and read-only afterwards.
var fakeAgent string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sheetrun-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeAgent = filepath.Join(dir, "fakeagent")
	build := exec.Command("go", "build", "-o", fakeAgent, "../../testdata/fakeagent")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building fakeagent: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs. A zombie counts as gone: once its parent died it
// waits for whoever adopted it, which in a container may never reap it.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	f, err := statFields(pid)
	return err != nil || len(f) == 0 || string(f[0]) == "Z" || string(f[0]) == "X"
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, 5*time.Second, fmt.Sprintf("process %d to be gone", pid), func() bool { return processGone(pid) })
}

// readPID reads a pid file the process under test wrote.
func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file %s holds %q", path, b)
	}
	return pid
}

// killLater makes sure a process the test let loose dies with the test.
func killLater(t *testing.T, pid int) {
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
}

// spec builds a Spec running argv in a fresh workspace with logs beside it.
func spec(t *testing.T, argv ...string) Spec {
	t.Helper()
	root := t.TempDir()
	ws := filepath.Join(root, "ws")
	if err := os.Mkdir(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	return Spec{
		Argv:       argv,
		Dir:        ws,
		Env:        os.Environ(),
		KillGrace:  300 * time.Millisecond,
		StdoutPath: filepath.Join(root, "logs", "stdout.log"),
		StderrPath: filepath.Join(root, "logs", "stderr.log"),
	}
}

func agentSpec(t *testing.T, prompt string) Spec {
	s := spec(t, fakeAgent)
	s.Stdin = prompt
	return s
}
