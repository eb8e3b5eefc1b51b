package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands of the remote scripts (testdata/script/remote_*.txtar): free
// ports, config files with those ports filled in, a second conductor home
// that is cleaned up like the first, a listener that never answers, and a
// bound on how long a command may take.
func init() {
	scriptCmds["freeport"] = cmdFreePort
	scriptCmds["envsubst"] = cmdEnvSubst
	scriptCmds["ownhome"] = cmdOwnHome
	scriptCmds["blackhole"] = cmdBlackhole
	scriptCmds["within"] = cmdWithin
}

// freeport VAR...: set each VAR to a TCP port nobody listens on now.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, name := range args {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		lns = append(lns, ln) // held until all are chosen, so they differ
		ts.Setenv(name, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	}
}

// envsubst SRC DST: copy SRC to DST with $VAR and ${VAR} expanded.
func cmdEnvSubst(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: envsubst SRC DST")
	}
	out := os.Expand(ts.ReadFile(args[0]), ts.Getenv)
	dst := ts.MkAbs(args[1])
	ts.Check(os.MkdirAll(filepath.Dir(dst), 0o700))
	ts.Check(os.WriteFile(dst, []byte(out), 0o600))
}

// ownhome DIR: DIR is another conductor's MARIANNE_HOME; whatever conductor
// lives there is killed when the script ends, as for the script's own home.
func cmdOwnHome(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: ownhome DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	ts.Defer(func() { stopAll(dir) })
}

// blackhole VAR: listen on a free port, set VAR to it, accept connections
// and never answer (a conductor that hangs, or a host that vanished
// without resetting connections).
func cmdBlackhole(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: blackhole VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	ts.Defer(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	ts.Setenv(args[0], strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// within DURATION CODE PROG ARGS...: run PROG, require exit code CODE and
// that it took less than DURATION (for "fails fast" and "times out"
// promises); stdout and stderr are kept for the next checks.
func cmdWithin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: within DURATION CODE PROG ARGS...")
	}
	limit, err := time.ParseDuration(args[0])
	ts.Check(err)
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	start := time.Now()
	err = ts.Exec(args[2], args[3:]...)
	took := time.Since(start)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[2], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[2:], " "), got, want)
	}
	if took >= limit {
		ts.Fatalf("%s took %s, want under %s", strings.Join(args[2:], " "), took.Round(time.Millisecond), limit)
	}
	ts.Logf("%s took %s", args[2], took.Round(time.Millisecond))
}
