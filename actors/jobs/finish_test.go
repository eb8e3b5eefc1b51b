package jobs

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// gateHandler holds the goroutine that logs msg until release is closed.
type gateHandler struct {
	slog.Handler
	msg     string
	reached chan struct{}
	release chan struct{}
}

func (h *gateHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.reached <- struct{}{}:
		default:
		}
		<-h.release
	}
	return h.Handler.Handle(ctx, r)
}

func (h *gateHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithAttrs(as)
	return &c
}

// A job's final write may be acknowledged before the manager hears that the
// job finished (the job actor can be descheduled between the two sends);
// the manager must drop the entry whatever the order. Here the job actor is
// held just after finishing until the store has acknowledged the final write
// and the manager has read the acknowledgement.
func TestFinishedJobLeavesActiveListWhateverTheOrder(t *testing.T) {
	dir := t.TempDir()
	gate := &gateHandler{Handler: slog.NewTextHandler(io.Discard, nil), msg: "job finished",
		reached: make(chan struct{}, 1), release: make(chan struct{})}
	log := slog.New(gate)
	db, err := store.Open(filepath.Join(dir, "state.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	storePID := system.Root.Spawn(store.Props(db, log))
	paths, err := config.ResolveIn(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	none := []Prepared{}
	mgr := system.Root.Spawn(Props(Deps{Config: config.Defaults(), Paths: paths, Store: storePID, DB: db, Log: log,
		Recovered: none, runner: instant}))
	t.Cleanup(func() {
		system.Root.StopFuture(mgr).Wait()
		system.Root.StopFuture(storePID).Wait()
	})
	e := &engine{system: system, mgr: mgr, dir: dir}
	released := false
	release := func() {
		if !released {
			released = true
			close(gate.release)
		}
	}
	defer release()
	id := e.submit(t, "one", "[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"s\"\nprompt = \"true\"\n")
	select {
	case <-gate.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not finish")
	}
	// The final write is durable once a later write is: writes apply in order.
	done := make(chan *store.WriteDone, 1)
	probe := system.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if wd, ok := c.Message().(*store.WriteDone); ok {
			done <- wd
		}
	}))
	system.Root.Send(storePID, &store.Write{Op: &store.PruneHistory{Keep: 1000}, ReplyTo: probe})
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the store did not acknowledge")
	}
	// The manager reads its mailbox in order: once it answers, it has seen
	// the final write's acknowledgement.
	e.ask(t, &CountsRequest{})
	release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list := e.ask(t, &messages.ListJobsRequest{}).(*messages.JobList)
		if len(list.GetJobs()) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still in the active list as %s", id, list.GetJobs()[0].GetStatus())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := e.ask(t, &messages.JobStatusRequest{JobId: id}).(*messages.JobStatus); st.GetJob().State() != messages.JobCompleted {
		t.Fatalf("status %s", st.GetJob().GetStatus())
	}
}
