package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/internal/tryjournal"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["supervisors"] = cmdSupervisors
	scriptCmds["buildmzt"] = cmdBuildMzt
	scriptCmds["waitconductor"] = cmdWaitConductor
}

// waitconductor PATH MIN [TIMEOUT]: wait until the number at PATH in
// `mzt conductor-status --json` is at least MIN (the monitor samples on its
// own schedule).
func cmdWaitConductor(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: waitconductor PATH MIN [TIMEOUT]")
	}
	min, err := strconv.ParseFloat(args[1], 64)
	ts.Check(err)
	timeout := argTimeout(ts, args, 2, 30*time.Second)
	last := ""
	if !waitUntil(timeout, func() bool {
		cmd := mztCmd(ts, "conductor-status", "--json")
		if g := ts.Getenv("GORACE"); g != "" {
			cmd.Env = append(cmd.Env, "GORACE="+g)
		}
		out, err := cmd.Output()
		if err != nil {
			last = err.Error()
			return false
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			last = err.Error()
			return false
		}
		last, _ = walkJSON(v, args[0])
		n, err := strconv.ParseFloat(last, 64)
		return err == nil && n >= min
	}) {
		ts.Fatalf("conductor-status %s = %q after %s, want at least %s", args[0], last, timeout, args[1])
	}
}

// buildmzt VERSION FILE: build mzt (as the scripts' own, with -race) with
// another version string into FILE, and mzt-conductor beside it (mzt
// starts the conductor binary next to itself): an upgraded installation.
func cmdBuildMzt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: buildmzt VERSION FILE")
	}
	out := ts.MkAbs(args[1])
	ldflags := "-X github.com/mzt-dev/mzt/cmd/mzt/cli.Version=" + args[0]
	for pkg, file := range map[string]string{".": out, "../mzt-conductor": filepath.Join(filepath.Dir(out), "mzt-conductor")} {
		cmd := exec.Command("go", "build", "-race", "-ldflags", ldflags, "-o", file, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			ts.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
	}
}

// supervisors kill9|count N|exits N: kill -9 every supervisor of the home
// (a crash of the whole conductor tree, after which tries fall back to
// crash recovery); check that N supervisors answer on sockets of the home;
// or wait until N tries of the home have their exit recorded.
func cmdSupervisors(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: supervisors kill9|count N|exits N")
	}
	home := ts.Getenv("MARIANNE_HOME")
	if c := ts.Getenv("MZT_CLONE"); c != "" {
		home = filepath.Join(home, "clones", c)
	}
	socks, _ := filepath.Glob(filepath.Join(home, "supervisors", "*.sock"))
	var pids []int
	for _, s := range socks {
		if pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(s), ".sock")); err == nil && alive(pid) {
			pids = append(pids, pid)
		}
	}
	switch args[0] {
	case "kill9":
		for _, pid := range pids {
			ts.Check(syscall.Kill(pid, syscall.SIGKILL))
		}
		if !waitUntil(10*time.Second, func() bool {
			for _, pid := range pids {
				if alive(pid) {
					return false
				}
			}
			return true
		}) {
			ts.Fatalf("supervisors %v survived SIGKILL", pids)
		}
	case "exits":
		// Wait until at least N tries of the home have their exit recorded.
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		n := 0
		if !waitUntil(30*time.Second, func() bool {
			// A try's own exit file, or its record in its run's journal.
			recs, _ := filepath.Glob(filepath.Join(home, "logs", "*", "sheet-*.try-*.exit"))
			n = len(recs)
			journals, _ := filepath.Glob(filepath.Join(home, "logs", "*", tryjournal.Name))
			for _, j := range journals {
				n += len(tryjournal.ReadExits(j))
			}
			return n >= want
		}) {
			ts.Fatalf("%d exit records, want %d", n, want)
		}
	case "count":
		want, err := strconv.Atoi(args[1])
		ts.Check(err)
		if (len(pids) == want) == neg {
			ts.Fatalf("%d live supervisors %v, want %d", len(pids), pids, want)
		}
	default:
		ts.Fatalf("usage: supervisors kill9|count N|exits N")
	}
}
