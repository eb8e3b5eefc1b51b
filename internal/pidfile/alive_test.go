package pidfile

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
	if Alive(0) || Alive(-1) {
		t.Error("a non-positive PID is alive")
	}
	// A child that exited but was not collected yet is a zombie: dead.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for Alive(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("an exited, uncollected child still counts as alive")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Wait()
	if Alive(cmd.Process.Pid) {
		t.Error("a collected child is alive")
	}
}
