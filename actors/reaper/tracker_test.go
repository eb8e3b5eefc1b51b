package reaper

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestTrackerClaims(t *testing.T) {
	tr := NewTracker()
	if tr.claimed(42, "", false) {
		t.Fatal("an untokened process is claimed while no sheet runs")
	}
	tr.SheetStarting("run/1/1")
	if !tr.claimed(42, "run/1/1", true) {
		t.Fatal("a process of a starting sheet is not claimed")
	}
	if !tr.claimed(42, "", false) {
		t.Fatal("an untokened process is not protected while a sheet runs")
	}
	tr.SheetStarted("run/1/1", 42)
	if !tr.isLeader(42) {
		t.Fatal("leader not recorded")
	}
	tr.SheetEnded("run/1/1")
	if tr.isLeader(42) || tr.claimed(7, "run/1/1", true) {
		t.Fatal("an ended sheet still protects its processes")
	}
	if got := tr.runPrefixes(); len(got) != 1 || got[0] != "run/" {
		t.Fatalf("run prefixes %v", got)
	}
}

// TestFindLeftoversByToken: a process carrying a run's token is found and
// killed; one with another run's token is not.
func TestFindLeftoversByToken(t *testing.T) {
	start := func(token string) *exec.Cmd {
		cmd := exec.Command("sleep", "60")
		cmd.Env = append(os.Environ(), TokenEnv+"="+token)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	mine := start("test-run-" + strconv.Itoa(os.Getpid()) + "/3/1")
	other := start("other-run-" + strconv.Itoa(os.Getpid()) + "/3/1")
	left := FindLeftovers([]string{"test-run-" + strconv.Itoa(os.Getpid()) + "/"})
	if len(left) != 1 || left[0].PID != mine.Process.Pid {
		t.Fatalf("found %+v, want only pid %d", left, mine.Process.Pid)
	}
	done := make(chan struct{})
	go func() { mine.Wait(); close(done) }()
	KillLeftovers(left, time.Second)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("leftover survived")
	}
	if st, _ := procState(other.Process.Pid); st == 0 || st == 'Z' {
		t.Fatal("another run's process was killed")
	}
}
