package main

import (
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["conductorsig"] = cmdConductorSig
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
