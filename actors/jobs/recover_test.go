package jobs

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// syncBuffer is a log sink safe for the logger's use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leftoverGroup starts bash as the leader of a new process group, with a
// sleep in the same group; it stands in for what an interrupted sheet left.
// It returns the leader's command, a channel closed when the leader has
// exited, and the sleep's PID.
func leftoverGroup(t *testing.T) (*exec.Cmd, <-chan struct{}, int) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	cmd := exec.Command("bash", "-c", `sleep 60 & echo $! > "$1"; wait`, "bash", pidFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var bg int
	deadline := time.Now().Add(10 * time.Second)
	for bg == 0 {
		if b, err := os.ReadFile(pidFile); err == nil {
			bg, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if bg == 0 && time.Now().After(deadline) {
			t.Fatal("the background sleep never wrote its pid")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		syscall.Kill(bg, syscall.SIGKILL)
		<-done
	})
	return cmd, done, bg
}

// running reports whether pid is alive and not a zombie.
func running(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	f := bytes.Fields(data[i+1:])
	return len(f) > 0 && f[0][0] != 'Z' && f[0][0] != 'X'
}

// A recorded sheet process whose start time differs from the live process
// with that PID is a reused PID: neither it nor its group is touched.
func TestKillLeftoversLeavesReusedPIDAlone(t *testing.T) {
	cmd, done, bg := leftoverGroup(t)
	pid := cmd.Process.Pid
	ticks, err := sheetrun.ProcStartTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	row := &store.SheetRow{Num: 2, Status: messages.SheetRunning, PID: pid, PGID: pid, ProcStart: ticks + 1}
	killLeftovers(row, 200*time.Millisecond, log)

	// Any signal would have been sent before killLeftovers returned; give
	// its delivery well past the grace period to show.
	select {
	case <-done:
		t.Fatalf("the leader %d of a reused PID was killed; log:\n%s", pid, logs.String())
	case <-time.After(time.Second):
	}
	if !running(pid) || !running(bg) {
		t.Fatalf("a process of the reused PID's group died (leader %v, member %v); log:\n%s",
			running(pid), running(bg), logs.String())
	}
	if !strings.Contains(logs.String(), "reused") {
		t.Errorf("no log line says the PID was reused:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "killing") {
		t.Errorf("the log says it killed something:\n%s", logs.String())
	}

	// A record without a start time is not enough to kill anything either.
	killLeftovers(&store.SheetRow{Num: 2, Status: messages.SheetRunning, PID: pid, PGID: pid}, 200*time.Millisecond, log)
	select {
	case <-done:
		t.Fatal("a record without a start time got its PID killed")
	case <-time.After(500 * time.Millisecond):
	}
}

// With the right start time, the recorded group is killed: the leader and
// the other member of its group.
func TestKillLeftoversKillsMatchingGroup(t *testing.T) {
	cmd, done, bg := leftoverGroup(t)
	pid := cmd.Process.Pid
	ticks, err := sheetrun.ProcStartTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	row := &store.SheetRow{Num: 2, Status: messages.SheetRunning, PID: pid, PGID: pid, ProcStart: ticks}
	killLeftovers(row, time.Second, log)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the leader %d of the recorded group survived; log:\n%s", pid, logs.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for running(bg) {
		if time.Now().After(deadline) {
			t.Fatalf("the member %d of the recorded group survived", bg)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The process is gone now: a second pass finds nothing and does not fail.
	killLeftovers(row, time.Second, log)
}
