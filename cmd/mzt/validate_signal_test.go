package main

import (
	"bytes"
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

// mzt validate ends at once on SIGTERM or SIGINT, even in the middle of
// checking a score whose templates take seconds to check, with exit 1.
func TestValidateEndsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			var score strings.Builder
			score.WriteString("workspace = \"ws\"\n[defaults]\ninstrument = \"shell\"\n")
			for i := range 200 {
				fmt.Fprintf(&score, "[[stage]]\nid = \"s%d\"\nvoices = 50\nprompt = \"{{range 1000}}{{.}}{{end}}{{.Voice}}\"\n", i)
			}
			path := filepath.Join(dir, "heavy.toml")
			if err := os.WriteFile(path, []byte(score.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(binDir, "mzt"), "validate", path)
			cmd.Env = append(os.Environ(), "MARIANNE_HOME="+filepath.Join(dir, "home"), "MZT_CLONE=", "GORACE=atexit_sleep_ms=0")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			// Busy checking: a quarter of a second of CPU, far more than
			// starting up takes, far less than the check.
			deadline := time.Now().Add(60 * time.Second)
			for cpuTicks(t, cmd.Process.Pid) < 25 {
				select {
				case err := <-done:
					t.Fatalf("mzt validate ended before the signal: %v\n%s", err, stderr.String())
				case <-time.After(20 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("mzt validate never got busy")
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Fatalf("mzt validate ended with %v, want exit 1\n%s", err, stderr.String())
				}
				if !strings.Contains(stderr.String(), "Error: interrupted while checking score") {
					t.Errorf("stderr = %q", stderr.String())
				}
				t.Logf("ended %v after the signal", time.Since(sent).Round(time.Millisecond))
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("mzt validate still running 5 s after %v", sig)
			}
		})
	}
}

// cpuTicks is the user and system CPU time of pid, in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0 // gone: the caller sees it exit
	}
	// The command name, in parentheses, may hold spaces: count after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}
