package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["conductorsig"] = cmdConductorSig
	scriptCmds["cgroupdir"] = cmdCgroupDir
}

// canCgroup2 is the [cgroup2] condition: conductors here run every sheet in
// a cgroup of its own.
func canCgroup2() bool {
	tree, err := cgroup.New(filepath.Join(os.TempDir(), "mzt-cgroup-probe"))
	if err != nil {
		return false
	}
	tree.Close()
	return true
}

// cgroupdir VAR: set VAR to the cgroup subtree the running conductor logged
// at start; skip the script where the conductor runs without cgroups.
func cmdCgroupDir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: cgroupdir VAR")
	}
	logPath := filepath.Join(filepath.Dir(conductorPIDFile(ts)), "conductor.log")
	data, err := os.ReadFile(logPath)
	ts.Check(err)
	dir := ""
	for _, line := range strings.Split(string(data), "\n") {
		var rec struct {
			Msg string `json:"msg"`
			Dir string `json:"dir"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "process isolation: one cgroup v2 per sheet" {
			dir = rec.Dir
		}
	}
	if dir == "" {
		ts.Fatalf("%s names no cgroup (guard the script with [!cgroup2] skip)", logPath)
	}
	ts.Setenv(args[0], dir)
}

// conductorsig STOP|CONT: freeze or thaw the running conductor (the one its
// PID file names), as a wedged machine or a debugger would.
func cmdConductorSig(ts *testscript.TestScript, neg bool, args []string) {
	sigs := map[string]syscall.Signal{"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT}
	if neg || len(args) != 1 || sigs[args[0]] == 0 {
		ts.Fatalf("usage: conductorsig STOP|CONT")
	}
	pid := readPID(conductorPIDFile(ts))
	if pid == 0 {
		ts.Fatalf("no conductor PID in %s", conductorPIDFile(ts))
	}
	ts.Check(syscall.Kill(pid, sigs[args[0]]))
}
