package jobs

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// A try's process starts only once the store holds the try (its number, its
// token, "running"): a conductor killed in between must find it recorded,
// or the next start would run the sheet again under the same try number.
// Here the store is slowed down: every write that records a running sheet
// is held for a while; the process must not start meanwhile, and when it
// starts the store must already say "running, try N".
func TestTryIsDurableBeforeItsProcessStarts(t *testing.T) {
	type start struct {
		at      time.Time
		try     int
		durable bool
	}
	starts := make(chan start, 16)
	var db *store.DB
	runner := func(ctx context.Context, plan attemptPlan, s func(sheetrun.Proc), done func(*attemptDone)) {
		run, _, err := db.LatestRun(context.Background(), "one")
		st := start{at: time.Now(), try: plan.try}
		if err == nil && len(run.Sheets) == 1 {
			row := run.Sheets[0]
			st.durable = row.Status == messages.SheetRunning && row.Tries == plan.try
		}
		starts <- st
		instant(ctx, plan, s, done)
	}
	held := make(chan struct{}, 16)
	e, sdb := newSlowStoreEngine(t, runner, func() <-chan struct{} {
		held <- struct{}{}
		ch := make(chan struct{})
		time.AfterFunc(300*time.Millisecond, func() { close(ch) })
		return ch
	})
	db = sdb
	submitted := time.Now()
	id := e.submit(t, "one", "id = \"one\"\n[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"s\"\nprompt = \"true\"\n")
	if st := e.waitFinished(t, id, 30*time.Second); st.GetJob().State() != messages.JobCompleted {
		t.Fatalf("status %s", st.GetJob().GetStatus())
	}
	close(starts)
	n := 0
	for st := range starts {
		n++
		if !st.durable {
			t.Errorf("try %d started %s after submission while the store did not hold it as running",
				st.try, st.at.Sub(submitted).Round(time.Millisecond))
		}
	}
	if n != 1 {
		t.Fatalf("%d tries started, want 1", n)
	}
	if len(held) == 0 {
		t.Fatal("no write recorded a running sheet")
	}
}

// A job cancelled while its try is being recorded never starts the try's
// process: the sheet ends cancelled and the job with it.
func TestCancelBeforeTheProcessStarts(t *testing.T) {
	started := make(chan int, 4)
	runner := func(ctx context.Context, plan attemptPlan, s func(sheetrun.Proc), done func(*attemptDone)) {
		started <- plan.try
		instant(ctx, plan, s, done)
	}
	held, release := make(chan struct{}, 4), make(chan struct{})
	e, _ := newSlowStoreEngine(t, runner, func() <-chan struct{} {
		held <- struct{}{}
		return release
	})
	id := e.submit(t, "c", "id = \"c\"\n[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"s\"\nprompt = \"true\"\n")
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the try was never recorded")
	}
	res := e.ask(t, &messages.JobControlRequest{JobId: id, Action: messages.JobAction_JOB_ACTION_CANCEL})
	if r, ok := res.(*messages.JobControlResponse); !ok || r.GetJobId() != id {
		t.Fatalf("cancel answered %v", res)
	}
	close(release)
	st := e.waitFinished(t, id, 30*time.Second)
	if st.GetJob().State() != messages.JobCancelled || st.GetSheets()[0].State() != messages.SheetCancelled {
		t.Fatalf("job %s, sheet %s; want both cancelled", st.GetJob().GetStatus(), st.GetSheets()[0].GetStatus())
	}
	select {
	case try := <-started:
		t.Fatalf("try %d started after the job was cancelled", try)
	default:
	}
}

// newSlowStoreEngine is an engine whose store holds every write that records
// a sheet as running until the channel hold returns delivers (or closes).
func newSlowStoreEngine(t *testing.T, runner attemptRunner, hold func() <-chan struct{}) (*engine, *store.DB) {
	return newHoldingEngine(t, runner, func(op *store.SaveSheets) bool {
		return len(op.Sheets) == 1 && op.Sheets[0].Status == messages.SheetRunning
	}, hold)
}

// newHoldingEngine is an engine whose store holds the SaveSheets writes
// that match until the channel hold returns delivers (or closes).
func newHoldingEngine(t *testing.T, runner attemptRunner, match func(*store.SaveSheets) bool,
	hold func() <-chan struct{}) (*engine, *store.DB) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(filepath.Join(dir, "state.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	real := system.Root.Spawn(store.Props(db, log))
	proxy := system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		w, ok := c.Message().(*store.Write)
		if !ok {
			if _, sys := c.Message().(actor.SystemMessage); !sys {
				c.Forward(real)
			}
			return
		}
		if op, ok := w.Op.(*store.SaveSheets); ok && match(op) {
			ch := hold()
			go func() {
				<-ch
				system.Root.Send(real, w)
			}()
			return
		}
		c.Send(real, w)
	}))
	paths, err := config.ResolveIn(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	none := []Prepared{}
	mgr := system.Root.Spawn(Props(Deps{Config: config.Defaults(), Paths: paths, Store: proxy, DB: db, Log: log,
		Recovered: none, runner: runner}))
	t.Cleanup(func() {
		system.Root.StopFuture(mgr).Wait()
		system.Root.StopFuture(real).Wait()
	})
	return &engine{system: system, mgr: mgr, dir: dir}, db
}

// A sheet whose prompt cannot be rendered (here: a missing var read only
// when the stage before it printed "x", which shows at run time only) fails
// with the reason in its status, without using its remaining attempts, and
// the job ends instead of wedging.
func TestUnrenderableSheetFailsWithReason(t *testing.T) {
	printsX := func(_ context.Context, plan attemptPlan, _ func(sheetrun.Proc), done func(*attemptDone)) {
		now := time.Now()
		done(&attemptDone{num: plan.num, try: plan.try,
			result: sheetrun.Result{Success: true, Started: now, Ended: now, StdoutTail: "x"}})
	}
	// One slot: a failed render must give it back, or nothing runs after.
	cfg := config.Defaults()
	cfg.MaxConcurrentSheets = 1
	e := newEngine(t, cfg, printsX)
	id := e.submit(t, "render", `[defaults]
instrument = "shell"
attempts = 3
[[stage]]
id = "a"
voices = 2
prompt = "true"
[[stage]]
id = "b"
prompt = "echo {{if eq (index .Prev.a.Voices 0).Output \"x\"}}{{.Vars.nope}}{{end}}"
`)
	st := e.waitFinished(t, id, 30*time.Second)
	if st.GetJob().State() != messages.JobFailed {
		t.Fatalf("job %s, want failed", st.GetJob().GetStatus())
	}
	b := st.GetSheets()[2]
	if b.State() != messages.SheetFailed || b.GetAttempts() != 1 {
		t.Fatalf("sheet 3: %s after %d attempts, want failed after 1", b.GetStatus(), b.GetAttempts())
	}
	if want := "nope"; !strings.Contains(b.GetError(), want) || !strings.Contains(b.GetError(), "stage b prompt") {
		t.Fatalf("sheet 3 error %q does not say why (%q)", b.GetError(), want)
	}
	// The slot came back: a new job runs.
	if st := e.waitFinished(t, e.submit(t, "after", dagScore(1, 1)), 30*time.Second); st.GetJob().State() != messages.JobCompleted {
		t.Fatalf("next job %s", st.GetJob().GetStatus())
	}
}

// A resume that arrives while a job's final state is still being written
// waits for it: the store would answer from the state before it, and the
// job would run again from there while the final write was still to land.
func TestResumeWhileTheFinalStateIsWritten(t *testing.T) {
	runs := make(chan int, 8)
	failing := func(_ context.Context, plan attemptPlan, _ func(sheetrun.Proc), done func(*attemptDone)) {
		runs <- plan.try
		now := time.Now()
		done(&attemptDone{num: plan.num, try: plan.try, result: sheetrun.Result{ExitCode: 1, Started: now, Ended: now}})
	}
	held, release := make(chan struct{}, 4), make(chan struct{})
	e, _ := newHoldingEngine(t, failing, func(op *store.SaveSheets) bool {
		return op.Job != nil && op.Job.Status.Terminal()
	}, func() <-chan struct{} {
		held <- struct{}{}
		return release
	})
	id := e.submit(t, "f", "id = \"f\"\n[defaults]\ninstrument = \"shell\"\nattempts = 1\n[[stage]]\nid = \"s\"\nprompt = \"false\"\n")
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not finish")
	}
	// The manager has the final snapshot once the job's status says so.
	deadline := time.Now().Add(10 * time.Second)
	for e.ask(t, &messages.JobStatusRequest{JobId: id}).(*messages.JobStatus).GetJob().State() != messages.JobFailed {
		if time.Now().After(deadline) {
			t.Fatal("the manager never learnt that the job failed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resumed := e.system.Root.RequestFuture(e.mgr, &messages.JobControlRequest{JobId: id,
		Action: messages.JobAction_JOB_ACTION_RESUME}, 30*time.Second)
	select {
	case try := <-runs:
		if try != 1 {
			t.Fatalf("first try %d", try)
		}
	default:
		t.Fatal("the first try did not run")
	}
	// Held for a while: nothing may run from the state before the final one.
	select {
	case try := <-runs:
		t.Fatalf("try %d ran before the job's final state was durable", try)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	res, err := resumed.Result()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.(*messages.JobControlResponse); !ok {
		t.Fatalf("resume answered %v", res)
	}
	select {
	case try := <-runs:
		if try != 2 {
			t.Fatalf("the resumed run's try is %d, want 2 (a try number is never reused)", try)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the resumed job did not run")
	}
}
