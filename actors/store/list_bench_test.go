package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// seedFinished stores jobs finished runs of sheets completed sheets each
// through a store actor, and returns the database open for reading.
func seedFinished(tb testing.TB, jobs, sheets int) *DB {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(tb.TempDir(), "state.db")
	db, err := Open(path, log)
	if err != nil {
		tb.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	pid := sys.Root.Spawn(Props(db, log))
	at := time.Now().Add(-time.Hour)
	code := 0
	for i := range jobs {
		id := fmt.Sprintf("hist-%05d", i)
		key := id + ".1"
		t := at.Add(time.Duration(i) * time.Millisecond)
		rows := make([]SheetRow, sheets)
		for k := range rows {
			rows[k] = SheetRow{RunKey: key, Num: k + 1, Stage: "s", Voice: k + 1, VoiceCount: sheets, Instrument: "shell",
				Status: "completed", Attempts: 1, Tries: 1, StartedAt: t, FinishedAt: t.Add(time.Second), ExitCode: &code,
				CostUSD: 0.01, CostKnown: k%2 == 0}
		}
		sys.Root.Send(pid, &Write{Op: &InsertRun{Job: JobRow{RunKey: key, JobID: id, Name: id, Status: "completed",
			ScorePath: "/bench/" + id + ".toml", Workspace: "/bench/ws", CreatedAt: t, StartedAt: t,
			FinishedAt: t.Add(time.Second), SheetsTotal: sheets}, Sheets: rows}})
	}
	f := actor.NewFuture(sys, time.Minute)
	sys.Root.Send(pid, &Write{Op: &PruneHistory{Keep: jobs}, ReplyTo: f.PID()})
	if _, err := f.Result(); err != nil {
		tb.Fatal(err)
	}
	sys.Root.PoisonFuture(pid).Wait()
	db2, err := Open(path, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db2.Close() })
	return db2
}

// BenchmarkFinishedList lists 10,000 finished jobs of 1 and of 10 sheets:
// the whole history (list --all --json; from the database, and again
// unchanged) and its newest page (list --all).
func BenchmarkFinishedList(b *testing.B) {
	for _, sheets := range []int{1, 10} {
		db := seedFinished(b, 10000, sheets)
		ctx := context.Background()
		b.Run(fmt.Sprintf("all/10000x%d", sheets), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				jobs, _, err := db.finishedPage(ctx, FinishedQuery{})
				if err != nil || len(jobs) != 10000 {
					b.Fatal(len(jobs), err)
				}
			}
		})
		b.Run(fmt.Sprintf("all-again/10000x%d", sheets), func(b *testing.B) {
			db.FinishedPage(ctx, FinishedQuery{}) // the first read fills the cache
			defer reportCPU(b)()
			for b.Loop() {
				jobs, _, err := db.FinishedPage(ctx, FinishedQuery{})
				if err != nil || len(jobs) != 10000 {
					b.Fatal(len(jobs), err)
				}
			}
		})
		b.Run(fmt.Sprintf("page50/10000x%d", sheets), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				jobs, total, err := db.finishedPage(ctx, FinishedQuery{Limit: 50, Exclude: []string{"hist-00001"}})
				if err != nil || len(jobs) != 50 || total != 9999 {
					b.Fatal(len(jobs), total, err)
				}
			}
		})
		b.Run(fmt.Sprintf("before/10000x%d", sheets), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				jobs, _, _, err := db.FinishedJobsUsage(ctx, nil)
				if err != nil || len(jobs) != 10000 {
					b.Fatal(len(jobs), err)
				}
			}
		})
	}
}

// reportCPU reports the process CPU time per op (this machine is shared:
// wall time measures the neighbours as much as the code).
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}
