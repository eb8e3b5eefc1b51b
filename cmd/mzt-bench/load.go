package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
)

// gatewayRate is conductor-status requests per second over conns
// connections for d, each connection sending its next request when the
// previous one is answered.
func gatewayRate(socket string, conns int, d time.Duration) (float64, error) {
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	deadline := time.Now().Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(context.Background(), socket)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for time.Now().Before(deadline) {
				if _, err := c.Request(context.Background(), &messages.ConductorStatusRequest{}); err != nil {
					errs <- err
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(total.Load()) / d.Seconds(), nil
}

// manyClients runs clients connections at once, each sending requests
// requests, and reports errors and the p99 latency.
func manyClients(socket string, clients, requests int) (errCount int, p99 time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(context.Background(), socket)
			if err != nil {
				failed.Add(int64(requests))
				return
			}
			defer c.Close()
			mine := make([]time.Duration, 0, requests)
			for range requests {
				t0 := time.Now()
				if _, err := c.Request(context.Background(), &messages.ConductorStatusRequest{}); err != nil {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(lat) == 0 {
		return int(failed.Load()), 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return int(failed.Load()), lat[len(lat)*99/100]
}

// seedHistory writes n finished one-sheet runs into the state database of
// home, through the store actor as the conductor would.
func seedHistory(home string, n int) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(filepath.Join(home, "state.db"), log)
	if err != nil {
		return err
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	pid := system.Root.Spawn(store.Props(db, log))
	now := time.Now().Add(-time.Hour)
	for i := range n {
		id := fmt.Sprintf("hist-%05d", i)
		key := fmt.Sprintf("%s.%d", id, i)
		at := now.Add(time.Duration(i) * time.Millisecond)
		code := 0
		system.Root.Send(pid, &store.Write{Op: &store.InsertRun{
			Job: store.JobRow{RunKey: key, JobID: id, Name: id, Status: "completed", ScorePath: "/bench/" + id + ".toml",
				Workspace: "/bench/ws", CreatedAt: at, StartedAt: at, FinishedAt: at.Add(time.Second), SheetsTotal: 1},
			Sheets: []store.SheetRow{{RunKey: key, Num: 1, Stage: "s", Voice: 1, VoiceCount: 1, Instrument: "shell",
				Status: "completed", Attempts: 1, Tries: 1, StartedAt: at, FinishedAt: at.Add(time.Second), ExitCode: &code}},
		}})
	}
	f := actor.NewFuture(system, time.Minute)
	system.Root.Send(pid, &store.Write{Op: &store.PruneHistory{Keep: n}, ReplyTo: f.PID()})
	if _, err := f.Result(); err != nil {
		return fmt.Errorf("seed history: %w", err)
	}
	return system.Root.PoisonFuture(pid).Wait()
}

// historyList measures `mzt list --all --json` with n finished jobs, and
// the default text view (the newest 50 and a count of the rest).
func historyList(mztBin, dir string, n int) (mid, text time.Duration, rss float64, err error) {
	home := filepath.Join(dir, "hist")
	if err := seedHistory(home, n); err != nil {
		return 0, 0, 0, err
	}
	mzt := mztIn(mztBin, home)
	if out, err := mzt("start").CombinedOutput(); err != nil {
		return 0, 0, 0, fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mzt("stop", "--force").Run()
	var times []time.Duration
	for range 5 {
		t0 := time.Now()
		out, err := mzt("list", "--all", "--json").Output()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("list: %w", err)
		}
		times = append(times, time.Since(t0))
		if len(out) < n*100 {
			return 0, 0, 0, fmt.Errorf("list returned %d bytes for %d jobs", len(out), n)
		}
	}
	var texts []time.Duration
	for range 5 {
		t0 := time.Now()
		if err := mzt("list", "--all").Run(); err != nil {
			return 0, 0, 0, fmt.Errorf("list: %w", err)
		}
		texts = append(texts, time.Since(t0))
	}
	return median(times), median(texts), rssMB(readPID(filepath.Join(home, "conductor.pid"))), nil
}

// queueTimes are the queue rows' measures: the time from the first
// submission to the last job's end, submitted one CLI call per job (cli),
// all in one `mzt run -` (batch) and by task-spooler (tsp: `tsp true`, which
// execs /bin/true; tspBash: `tsp bash -c true`, the same command as mzt's
// shell instrument runs); and the median of one submitting call of each.
type queueTimes struct {
	cli, batch, tsp, tspBash time.Duration
	cliCall, tspCall         time.Duration
}

// queueRounds interleaves the queue measures so that machine noise hits mzt
// and task-spooler alike.
const queueRounds = 4

// queueVsTsp runs n one-sheet `true` jobs with 2 slots through each mzt
// binary (each job submitted by its own CLI, then all by one batch `mzt run
// -`) and through task-spooler, in queueRounds interleaved rounds of
// n/queueRounds jobs. It returns one queueTimes per binary, each with the
// same task-spooler times.
func queueVsTsp(mztBins []string, dir string, n int) (qts []queueTimes, err error) {
	tspEnv := append(os.Environ(), "TS_SOCKET="+filepath.Join(dir, "tsp.sock"), "TMPDIR="+dir, "TS_MAXFINISHED=2000")
	tsp := func(args ...string) error {
		cmd := exec.Command("tsp", args...)
		cmd.Env = tspEnv
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		return cmd.Run()
	}
	if err := tsp("-S", "2"); err != nil {
		return nil, fmt.Errorf("tsp -S: %w", err)
	}
	defer tsp("-K")

	type queue struct {
		mzt  func(args ...string) *exec.Cmd
		sock string
	}
	queues := make([]queue, len(mztBins))
	src := []byte(fmt.Sprintf("workspace = %q\n[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"s\"\nprompt = \"true\"\n",
		filepath.Join(dir, "qws")))
	score := filepath.Join(dir, "one.toml")
	if err := os.WriteFile(score, src, 0o644); err != nil {
		return nil, err
	}
	for i, bin := range mztBins {
		home := filepath.Join(dir, fmt.Sprintf("queue%d", i))
		os.MkdirAll(home, 0o700)
		os.WriteFile(filepath.Join(home, "conductor.toml"), []byte("max_concurrent_jobs = 2\nmax_concurrent_sheets = 2\n"), 0o600)
		mzt := mztIn(bin, home)
		if out, err := mzt("start").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("start %s: %v\n%s", bin, err, out)
		}
		defer mzt("stop", "--force").Run()
		queues[i] = queue{mzt, filepath.Join(home, "conductor.sock")}
	}

	per := max(n/queueRounds, 1)
	qts = make([]queueTimes, len(mztBins))
	var tspTotal, tspBashTotal time.Duration
	var tspCalls []time.Duration
	cliCalls := make([][]time.Duration, len(mztBins))
	for r := range queueRounds {
		t0 := time.Now()
		for range per {
			t1 := time.Now()
			if err := tsp("true"); err != nil {
				return nil, fmt.Errorf("tsp: %w", err)
			}
			tspCalls = append(tspCalls, time.Since(t1))
		}
		if err := tsp("-w"); err != nil { // waits for the last job
			return nil, fmt.Errorf("tsp -w: %w", err)
		}
		tspTotal += time.Since(t0)

		// The same command as mzt's shell instrument runs (bash -c PROMPT),
		// so that the comparison does not credit task-spooler with a shell
		// it does not start.
		t0 = time.Now()
		for range per {
			if err := tsp("bash", "-c", "true"); err != nil {
				return nil, fmt.Errorf("tsp bash: %w", err)
			}
		}
		if err := tsp("-w"); err != nil {
			return nil, fmt.Errorf("tsp -w: %w", err)
		}
		tspBashTotal += time.Since(t0)

		// Which binary goes first turns with each round: the first after
		// task-spooler's runs measured some 17% slower in a round.
		for k := range queues {
			q := (k + r) % len(queues)
			qu := queues[q]
			t0 = time.Now()
			for i := range per {
				t1 := time.Now()
				if out, err := qu.mzt("run", "--id", fmt.Sprintf("q%d-%04d", r, i), score).CombinedOutput(); err != nil {
					return nil, fmt.Errorf("run: %v\n%s", err, out)
				}
				cliCalls[q] = append(cliCalls[q], time.Since(t1))
			}
			if err := waitIdle(qu.sock); err != nil {
				return nil, err
			}
			qts[q].cli += time.Since(t0)

			// The same jobs in one batch: per score files (a job's id is
			// its file name), their paths on stdin of one mzt run.
			var paths strings.Builder
			for i := range per {
				p := filepath.Join(dir, fmt.Sprintf("b%d-%04d.toml", r, i))
				if err := os.WriteFile(p, src, 0o644); err != nil {
					return nil, err
				}
				fmt.Fprintln(&paths, p)
			}
			t0 = time.Now()
			batch := qu.mzt("run", "-")
			batch.Stdin = strings.NewReader(paths.String())
			if out, err := batch.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("run -: %v\n%s", err, out)
			}
			if err := waitIdle(qu.sock); err != nil {
				return nil, err
			}
			qts[q].batch += time.Since(t0)
		}
	}
	for q := range qts {
		qts[q].tsp, qts[q].tspBash = tspTotal, tspBashTotal
		qts[q].cliCall, qts[q].tspCall = median(cliCalls[q]), median(tspCalls)
	}
	return qts, nil
}

// queueRows are the rows of queueTimes for n jobs; label names the binary
// when several were measured.
func queueRows(n int, qt queueTimes, label string) []row {
	tsp := fmt.Sprintf("%.1f s task-spooler (tsp)", qt.tsp.Seconds())
	return []row{
		{fmt.Sprintf("%d one-sheet jobs queued, 2 slots, submitted by the CLI%s", n, label), fmt.Sprintf("%.1f s", qt.cli.Seconds()),
			tsp, fmt.Sprintf("%.2fx", qt.cli.Seconds()/qt.tsp.Seconds()), "<= 1.5x"},
		{"the same, submitted by one mzt run - (batch)" + label, fmt.Sprintf("%.1f s", qt.batch.Seconds()),
			tsp, fmt.Sprintf("%.2fx", qt.batch.Seconds()/qt.tsp.Seconds()), "< 1x"},
		{"the same batch, against tsp bash -c true (the same command)" + label, fmt.Sprintf("%.1f s", qt.batch.Seconds()),
			fmt.Sprintf("%.1f s tsp bash -c true", qt.tspBash.Seconds()), fmt.Sprintf("%.2fx", qt.batch.Seconds()/qt.tspBash.Seconds()), ""},
		{"one mzt run of a one-sheet job, the CLI call (median)" + label, ms(qt.cliCall), ms(qt.tspCall) + " tsp true",
			ratio(qt.cliCall, qt.tspCall), ""},
	}
}

// waitIdle waits until the conductor at sock has no running or queued job.
func waitIdle(sock string) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		st, err := client.Call[*messages.ConductorStatus](context.Background(), sock, &messages.ConductorStatusRequest{})
		if err != nil {
			return err
		}
		if st.RunningJobs == 0 && st.QueuedJobs == 0 {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("jobs still running or queued after 10 minutes")
}

// mztIn returns a command maker for mzt with its home at home.
func mztIn(bin, home string) func(args ...string) *exec.Cmd {
	env := append(os.Environ(), "MARIANNE_HOME="+home, "MZT_CLONE=")
	return func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return cmd
	}
}

// queueOnly prints the idle RSS row and the queue rows against
// task-spooler; with base, the same for that other mzt binary (an earlier
// build), measured interleaved with this one.
func queueOnly(mztBin, base string, n int) error {
	if _, err := exec.LookPath("tsp"); err != nil {
		return fmt.Errorf("tsp not installed (apt-get install task-spooler)")
	}
	dir, mztBin, err := workdir(".mztbench", mztBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, labels := []string{mztBin}, []string{""}
	if base != "" {
		bins, labels = append(bins, base), []string{" [this build]", " [base]"}
	}
	var rows []row
	for i, bin := range bins {
		home := filepath.Join(dir, fmt.Sprintf("idle%d", i))
		mzt := mztIn(bin, home)
		if out, err := mzt("start").CombinedOutput(); err != nil {
			return fmt.Errorf("start: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond) // let the first monitor sample settle
		rss := rssMB(readPID(filepath.Join(home, "conductor.pid")))
		mzt("stop", "--force").Run()
		rows = append(rows, row{"idle conductor RSS" + labels[i], fmt.Sprintf("%.1f MB", rss), "", "", "< 25 MB"})
	}
	qts, err := queueVsTsp(bins, dir, n)
	if err != nil {
		return err
	}
	for i, qt := range qts {
		rows = append(rows, queueRows(n, qt, labels[i])...)
	}
	for _, r := range rows {
		fmt.Printf("%-70s %-14s %-34s %-8s %s\n", r.what, r.value, r.floor, r.ratio, r.goal)
	}
	return nil
}
