package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mzt-dev/mzt/internal/proctable"
)

// profilerCost measures the conductor's own CPU while sheets sleep, with the
// profiler on (sampling every second, 5x the default rate) and off, each in a
// fresh conductor: what the profiler costs where it has the most to do.
func profilerCost(mztBin, dir string, sheets int, window time.Duration) (on, off float64, err error) {
	for _, enabled := range []bool{true, false} {
		home := filepath.Join(dir, fmt.Sprintf("prof-%v", enabled))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return 0, 0, err
		}
		cfg := fmt.Sprintf("max_concurrent_sheets = %d\n[profiler]\nenabled = %v\ninterval = \"1s\"\n", sheets+10, enabled)
		if err := os.WriteFile(filepath.Join(home, "conductor.toml"), []byte(cfg), 0o600); err != nil {
			return 0, 0, err
		}
		score, err := fanOutScore(dir, "sleepers", "sleep 120", sheets, sheets)
		if err != nil {
			return 0, 0, err
		}
		cpu, err := conductorCPU(mztIn(mztBin, home), home, score, sheets, window)
		if err != nil {
			return 0, 0, fmt.Errorf("profiler enabled=%v: %w", enabled, err)
		}
		if enabled {
			on = cpu
		} else {
			off = cpu
		}
	}
	return on, off, nil
}

// conductorCPU starts a conductor, runs score until n sheets run, and returns
// the conductor's CPU use over window as a percentage of one core.
func conductorCPU(mztCmd func(args ...string) *exec.Cmd, home, score string, n int, window time.Duration) (float64, error) {
	if out, err := mztCmd("start").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mztCmd("stop", "--force").Run()
	if out, err := mztCmd("run", score).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("run: %v\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := mztCmd("conductor-status", "--json").Output()
		var st struct {
			RunningSheets int `json:"running_sheets"`
		}
		if err == nil && json.Unmarshal(out, &st) == nil && st.RunningSheets >= n {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d sheets never ran at once", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let start-up work settle before measuring
	pid := readPID(filepath.Join(home, "conductor.pid"))
	before, err := proctable.Read(pid)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	time.Sleep(window)
	after, err := proctable.Read(pid)
	if err != nil {
		return 0, err
	}
	ticks := float64(after.CPUTicks - before.CPUTicks)
	return ticks / proctable.ClockTicks / time.Since(t0).Seconds() * 100, nil
}

// profilerCostOnly runs just the profiler measurement.
func profilerCostOnly() error {
	dir, mztBin, err := workdir(".mztbench", "")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	on, off, err := profilerCost(mztBin, dir, 50, 10*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("conductor CPU with 50 sleeping sheets over 10 s: profiler every 1s %.2f%% of a core, profiler off %.2f%%\n", on, off)
	return nil
}

// fanOutScore writes a one-stage shell score of voices sheets running
// prompt, parallel at a time, with its workspace under dir.
func fanOutScore(dir, id, prompt string, parallel, voices int) (string, error) {
	path := filepath.Join(dir, id+".toml")
	src := fmt.Sprintf(`id = %q
workspace = %q
[defaults]
instrument = "shell"
[run]
max_parallel = %d
[[stage]]
id = "s"
voices = %d
prompt = %q
`, id, filepath.Join(dir, "ws-"+id), parallel, voices, prompt)
	return path, os.WriteFile(path, []byte(src), 0o644)
}
