package jobs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// engine is a job manager with a real store and a fake attempt runner.
type engine struct {
	system *actor.ActorSystem
	mgr    *actor.PID
	dir    string
}

func newEngine(tb testing.TB, cfg *config.Config, runner attemptRunner) *engine {
	tb.Helper()
	return newEngineWith(tb, cfg, runner, nil)
}

// newEngineWith is newEngine with a fleet membership (nil: none).
func newEngineWith(tb testing.TB, cfg *config.Config, runner attemptRunner, fleet Fleet) *engine {
	tb.Helper()
	dir := tb.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(filepath.Join(dir, "state.db"), log)
	if err != nil {
		tb.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	storePID := system.Root.Spawn(store.Props(db, log))
	paths, err := config.ResolveIn(dir, "")
	if err != nil {
		tb.Fatal(err)
	}
	mgr := system.Root.Spawn(Props(Deps{Config: cfg, Paths: paths, Store: storePID, DB: db, Log: log,
		runner: runner, Fleet: fleet}))
	tb.Cleanup(func() {
		system.Root.StopFuture(mgr).Wait()
		system.Root.StopFuture(storePID).Wait()
	})
	return &engine{system: system, mgr: mgr, dir: dir}
}

func (e *engine) ask(tb testing.TB, msg any) any {
	tb.Helper()
	res, err := e.system.Root.RequestFuture(e.mgr, msg, 30*time.Second).Result()
	if err != nil {
		tb.Fatalf("ask %T: %v", msg, err)
	}
	if me, ok := res.(*messages.Error); ok {
		tb.Fatalf("ask %T: %s", msg, me.GetMessage())
	}
	return res
}

func (e *engine) submit(tb testing.TB, name, source string) string {
	tb.Helper()
	path := filepath.Join(e.dir, name+".toml")
	if err := os.WriteFile(path, []byte(source), 0o644); err != nil {
		tb.Fatal(err)
	}
	res := e.ask(tb, &messages.SubmitJobRequest{ScorePath: path, ScoreSource: []byte(source)})
	return res.(*messages.SubmitJobResponse).GetJobId()
}

func (e *engine) waitFinished(tb testing.TB, id string, timeout time.Duration) *messages.JobStatus {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// The summary list is cheap to poll; the full status only at the end.
		var status messages.JobState
		for _, j := range e.ask(tb, &messages.ListJobsRequest{All: true}).(*messages.JobList).GetJobs() {
			if j.GetId() == id {
				status = j.State()
			}
		}
		switch status {
		case messages.JobCompleted, messages.JobFailed, messages.JobCancelled:
			return e.ask(tb, &messages.JobStatusRequest{JobId: id}).(*messages.JobStatus)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("job %s still %s after %s", id, status, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// instant is a runner whose every attempt succeeds at once.
func instant(_ context.Context, plan attemptPlan, _ func(sheetrun.Proc), done func(*attemptDone)) {
	now := time.Now()
	done(&attemptDone{num: plan.num, try: plan.try, result: sheetrun.Result{Success: true, Started: now, Ended: now}})
}

// dagScore is stages×voices sheets, each stage depending on the previous one.
func dagScore(stages, voices int) string {
	var b strings.Builder
	b.WriteString("[defaults]\ninstrument = \"shell\"\n[run]\nmax_parallel = 100\n")
	for i := range stages {
		fmt.Fprintf(&b, "[[stage]]\nid = \"s%d\"\nvoices = %d\nprompt = \"true\"\n", i, voices)
	}
	return b.String()
}

func TestFanInWaitsForEveryVoice(t *testing.T) {
	started := make(chan int, 100)
	runner := func(ctx context.Context, plan attemptPlan, s func(sheetrun.Proc), done func(*attemptDone)) {
		started <- plan.num
		instant(ctx, plan, s, done)
	}
	e := newEngine(t, config.Defaults(), runner)
	id := e.submit(t, "fan", dagScore(2, 5)+"[[stage]]\nid = \"merge\"\nprompt = \"true\"\n")
	st := e.waitFinished(t, id, 30*time.Second)
	if st.GetJob().State() != messages.JobCompleted {
		t.Fatalf("status %s", st.GetJob().GetStatus())
	}
	close(started)
	pos := map[int]int{}
	i := 0
	for n := range started {
		pos[n] = i
		i++
	}
	for stage := 1; stage < 3; stage++ {
		first := 1 + stage*5
		for prev := first - 5; prev < first; prev++ {
			if pos[prev] > pos[first] {
				t.Errorf("sheet %d started before sheet %d it depends on finished", first, prev)
			}
		}
	}
}

// BenchmarkDAG10k schedules one job of 10,000 sheets (100 stages of 100
// voices) through the manager and the store, with attempts that succeed at
// once: what is measured is the engine, not the processes.
func BenchmarkDAG10k(b *testing.B) {
	cfg := config.Defaults()
	cfg.MaxConcurrentSheets = 100
	e := newEngine(b, cfg, instant)
	source := dagScore(100, 100)
	var peak uint64
	for i := 0; b.Loop(); i++ {
		id := e.submit(b, fmt.Sprintf("dag%d", i), source)
		if st := e.waitFinished(b, id, 10*time.Minute); st.GetJob().GetSheetsCompleted() != 10000 {
			b.Fatalf("completed %d sheets", st.GetJob().GetSheetsCompleted())
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(peak)/(1<<20), "heap-MB")
}
