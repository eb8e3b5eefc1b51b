package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
)

// historyOnly measures the commands whose cost could grow with history:
// list over many finished jobs, status of a job of many sheets (finished,
// read from the store, and live, answered by its actor) and version, which
// needs the conductor binary's version too.
func historyOnly(mztBin string, n, jobs, sheets int) error {
	dir, mztBin, err := workdir(".mztbench", mztBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rows, err := historyRows(self, mztBin, dir, n, jobs, sheets)
	if err != nil {
		return err
	}
	fmt.Printf("mzt-bench history on %s, %d CPUs, %s\n\n", hostname(), numCPU(), time.Now().Format(time.RFC3339))
	fmt.Printf("%-62s %-14s %-34s %-8s %s\n", "MEASURE", "MZT", "FLOOR", "RATIO", "GOAL")
	for _, r := range rows {
		fmt.Printf("%-62s %-14s %-34s %-8s %s\n", r.what, r.value, r.floor, r.ratio, r.goal)
	}
	return nil
}

func historyRows(self, mztBin, dir string, n, jobs, sheets int) ([]row, error) {
	home := filepath.Join(dir, "hist")
	if err := seedHistory(home, jobs); err != nil {
		return nil, err
	}
	if err := seedBigRun(home, "big-done", sheets); err != nil {
		return nil, err
	}
	mzt := mztIn(mztBin, home)
	if out, err := mzt("start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mzt("stop", "--force").Run()
	for range 3 {
		if err := mzt("list", "--all", "--json").Run(); err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
	}
	historyRSS := rssMB(readPID(filepath.Join(home, "conductor.pid")))
	// A live job of as many sheets, one running at a time.
	score, err := bigScore(dir, "big-live", "sleep 600", sheets)
	if err != nil {
		return nil, err
	}
	if out, err := mzt("run", score).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("run big-live: %v\n%s", err, out)
	}

	floorSock := filepath.Join(dir, "floor.sock")
	stop, err := floorServer(floorSock)
	if err != nil {
		return nil, err
	}
	defer stop()
	// Besides the wall time, the CPU time of the CLI and of the conductor:
	// on a machine shared with other work they say where the time goes
	// when the wall time mostly measures the neighbours.
	conductor := readPID(filepath.Join(home, "conductor.pid"))
	timed := func(minBytes int, args ...string) (wall, cli, cond time.Duration, err error) {
		c0, t0 := procCPU(conductor), time.Now()
		cmd := mzt(args...)
		out, err := cmd.Output()
		wall, cond = time.Since(t0), procCPU(conductor)-c0
		if err != nil {
			return 0, 0, 0, fmt.Errorf("mzt %v: %w", args, err)
		}
		if len(out) < minBytes {
			return 0, 0, 0, fmt.Errorf("mzt %v printed %d bytes, want %d or more", args, len(out), minBytes)
		}
		return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), cond, nil
	}
	measures := []struct {
		what, goal     string
		minBytes       int
		args           []string
		times          []time.Duration
		cliCPU, cndCPU time.Duration
	}{
		{what: fmt.Sprintf("mzt list --all --json with %d finished jobs (median)", jobs), goal: "< 100 ms", minBytes: jobs * 100, args: []string{"list", "--all", "--json"}},
		{what: "mzt list --all (text: newest 50 and a count) of the same (median)", minBytes: 50 * 20, args: []string{"list", "--all"}},
		{what: fmt.Sprintf("mzt status --json of a finished job of %d sheets (median)", sheets), goal: "< 100 ms", minBytes: sheets * 100, args: []string{"status", "big-done", "--json"}},
		{what: fmt.Sprintf("mzt status (text) of a finished job of %d sheets (median)", sheets), goal: "< 100 ms", minBytes: 100, args: []string{"status", "big-done"}},
		{what: fmt.Sprintf("mzt status --json of a live job of %d sheets (median)", sheets), goal: "< 100 ms", minBytes: sheets * 100, args: []string{"status", "big-live", "--json"}},
		{what: fmt.Sprintf("mzt status (text) of a live job of %d sheets (median)", sheets), goal: "< 100 ms", minBytes: 100, args: []string{"status", "big-live"}},
		{what: "mzt version, with mzt-conductor's and the running one's (median)", args: []string{"version"}},
	}
	var floor []time.Duration
	// Interleaved, so that machine noise hits every measure alike.
	for range n {
		for i := range measures {
			d, cli, cond, err := timed(measures[i].minBytes, measures[i].args...)
			if err != nil {
				return nil, err
			}
			measures[i].times = append(measures[i].times, d)
			measures[i].cliCPU += cli
			measures[i].cndCPU += cond
		}
		t0 := time.Now()
		if err := exec.Command(self, "floor-client", floorSock).Run(); err != nil {
			return nil, fmt.Errorf("floor client: %w", err)
		}
		floor = append(floor, time.Since(t0))
	}
	var rows []row
	for _, m := range measures {
		// Means: the kernel counts a process's CPU in ticks of 10 ms.
		r := row{what: m.what, value: ms(median(m.times)), goal: m.goal,
			floor: fmt.Sprintf("cpu %s + conductor %s", ms(m.cliCPU/time.Duration(n)), ms(m.cndCPU/time.Duration(n)))}
		if m.args[0] == "version" {
			r.floor, r.ratio, r.goal = ms(median(floor))+" bare Go socket client", ratio(median(m.times), median(floor)), "<= 2x"
		}
		rows = append(rows, r)
		if m.args[0] != "version" {
			// The conductor keeps a finished history's answers until the
			// next write; the first round follows one (the live job's run).
			rows = append(rows, row{what: "  the same, its first time after a write", value: ms(m.times[0])})
		}
	}
	rows = append(rows, row{what: fmt.Sprintf("conductor RSS with %d finished jobs, after listing", jobs),
		value: fmt.Sprintf("%.1f MB", historyRSS), goal: "< 100 MB"},
		row{what: fmt.Sprintf("conductor RSS with a live job of %d sheets as well", sheets),
			value: fmt.Sprintf("%.1f MB", rssMB(readPID(filepath.Join(home, "conductor.pid"))))})
	return rows, nil
}

// bigScore writes a score of sheets shell sheets (in stages of at most
// 1,000 voices), one running at a time.
func bigScore(dir, id, prompt string, sheets int) (string, error) {
	path := filepath.Join(dir, id+".toml")
	var b strings.Builder
	fmt.Fprintf(&b, "id = %q\nworkspace = %q\n[defaults]\ninstrument = \"shell\"\n[run]\nmax_parallel = 1\n",
		id, filepath.Join(dir, "ws-"+id))
	for stage := 0; sheets > 0; stage++ {
		voices := min(sheets, 1000)
		sheets -= voices
		fmt.Fprintf(&b, "[[stage]]\nid = \"s%d\"\nvoices = %d\nprompt = %q\n", stage, voices, prompt)
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// seedBigRun writes one finished run of id with sheets completed sheets
// into the state database of home.
func seedBigRun(home, id string, sheets int) error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(filepath.Join(home, "state.db"), log)
	if err != nil {
		return err
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	pid := system.Root.Spawn(store.Props(db, log))
	at := time.Now().Add(-time.Minute)
	key := id + ".1"
	code := 0
	rows := make([]store.SheetRow, sheets)
	for i := range rows {
		rows[i] = store.SheetRow{RunKey: key, Num: i + 1, Stage: "s", Voice: i + 1, VoiceCount: sheets, Instrument: "shell",
			Status: "completed", Attempts: 1, Tries: 1, StartedAt: at, FinishedAt: at.Add(time.Second), ExitCode: &code}
	}
	f := actor.NewFuture(system, time.Minute)
	system.Root.Send(pid, &store.Write{Op: &store.InsertRun{
		Job: store.JobRow{RunKey: key, JobID: id, Name: id, Status: "completed", ScorePath: "/bench/" + id + ".toml",
			Workspace: "/bench/ws", CreatedAt: at, StartedAt: at, FinishedAt: at.Add(time.Second), SheetsTotal: sheets},
		Sheets: rows,
	}, ReplyTo: f.PID()})
	res, err := f.Result()
	if done, ok := res.(*store.WriteDone); ok && err == nil {
		err = done.Err
	}
	if err != nil {
		return fmt.Errorf("seed %s: %w", id, err)
	}
	return system.Root.PoisonFuture(pid).Wait()
}
