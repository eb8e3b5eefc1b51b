package cgroup

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestSetsidCannotEscape: a process that leaves its group and session is
// still in its sheet's cgroup, and Kill ends it.
func TestSetsidCannotEscape(t *testing.T) {
	tree, err := New(t.TempDir())
	if err != nil {
		t.Skipf("no usable cgroup v2 here: %v", err)
	}
	defer tree.Close()
	sheet, err := tree.NewSheet("t1")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := t.TempDir() + "/orphan.pid"
	cmd := exec.Command("bash", "-c", "setsid sleep 60 >/dev/null 2>&1 < /dev/null & echo $! > "+pidFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: true, CgroupFD: sheet.FD()}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sheet.Procs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the escaped sleep is not in the sheet's cgroup")
		}
		time.Sleep(10 * time.Millisecond)
	}
	data, _ := os.ReadFile(pidFile)
	if err := sheet.Kill(); err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		t.Fatal("no orphan pid recorded")
	}
	tree.removePending()
	deadline = time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(sheet.dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sheet cgroup not removed")
		}
		time.Sleep(10 * time.Millisecond)
		tree.removePending()
	}
}

// TestNewEmptiesAPredecessorsTree: a subtree left by a crashed conductor of
// the same home is emptied when the next one starts.
func TestNewEmptiesAPredecessorsTree(t *testing.T) {
	home := t.TempDir()
	tree, err := New(home)
	if err != nil {
		t.Skipf("no usable cgroup v2 here: %v", err)
	}
	sheet, err := tree.NewSheet("left")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: sheet.FD()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	again, err := New(home) // the "next start"
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the predecessor's sheet process survived")
	}
}
