package daemon

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

const waitFor = 10 * time.Second

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	nominal := []time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 6: time.Second, 7: time.Second,
	}
	for n := 1; n < len(nominal); n++ {
		if got := b.Delay(n, func() float64 { return 0 }); got != nominal[n]/2 {
			t.Errorf("Delay(%d) with rnd 0 = %v, want %v (half the nominal %v)", n, got, nominal[n]/2, nominal[n])
		}
		if got := b.Delay(n, func() float64 { return 0.5 }); got != nominal[n]*3/4 {
			t.Errorf("Delay(%d) with rnd 0.5 = %v, want %v", n, got, nominal[n]*3/4)
		}
		for range 200 {
			got := b.Delay(n, rand.Float64)
			if got < nominal[n]/2 || got >= nominal[n] {
				t.Fatalf("Delay(%d) = %v, outside [%v, %v)", n, got, nominal[n]/2, nominal[n])
			}
		}
		if got := b.Delay(n, func() float64 { return 0.999999 }); got >= nominal[n] || got < nominal[n]*99/100 {
			t.Errorf("Delay(%d) with rnd near 1 = %v, want just under %v", n, got, nominal[n])
		}
	}
	// Far past the cap nothing overflows.
	for _, n := range []int{64, 1000, 1 << 30} {
		if got := b.Delay(n, func() float64 { return 0 }); got != b.Max/2 {
			t.Errorf("Delay(%d) = %v, want the capped %v", n, got, b.Max/2)
		}
	}
}

// fakeSupervisor records what a strategy asks of it.
type fakeSupervisor struct {
	mu        sync.Mutex
	restarted []time.Time
	stopped   int
	restartCh chan struct{}
}

func newFakeSupervisor() *fakeSupervisor { return &fakeSupervisor{restartCh: make(chan struct{}, 100)} }

func (f *fakeSupervisor) Children() []*actor.PID       { return nil }
func (f *fakeSupervisor) EscalateFailure(any, any)     { panic("the strategy must never escalate") }
func (f *fakeSupervisor) ResumeChildren(...*actor.PID) {}
func (f *fakeSupervisor) StopChildren(pids ...*actor.PID) {
	f.mu.Lock()
	f.stopped += len(pids)
	f.mu.Unlock()
}
func (f *fakeSupervisor) RestartChildren(pids ...*actor.PID) {
	f.mu.Lock()
	f.restarted = append(f.restarted, time.Now())
	f.mu.Unlock()
	f.restartCh <- struct{}{}
}

func (f *fakeSupervisor) counts() (restarts, stops int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.restarted), f.stopped
}

func (f *fakeSupervisor) awaitRestart(t *testing.T) {
	t.Helper()
	select {
	case <-f.restartCh:
	case <-time.After(waitFor):
		t.Fatal("no restart within", waitFor)
	}
}

func TestStrategyFreshBackoffAfterQuietWindow(t *testing.T) {
	s := &restartStrategy{backoff: Backoff{Base: time.Millisecond, Max: time.Second}, maxRestarts: 2,
		window: 50 * time.Millisecond, critical: map[string]bool{}, log: discardLog()}
	sup := newFakeSupervisor()
	child := actor.NewPID("nonhost", "daemon/worker")
	rs := actor.NewRestartStatistics()

	s.HandleFailure(nil, sup, child, rs, "one", nil)
	sup.awaitRestart(t)
	s.HandleFailure(nil, sup, child, rs, "two", nil)
	sup.awaitRestart(t)
	if rs.FailureCount() != 2 {
		t.Fatalf("failure count %d after two failures", rs.FailureCount())
	}
	// Let the window pass with no failure: the next failure is restarted
	// (not counted against the two already spent) with a fresh backoff.
	time.Sleep(60 * time.Millisecond) // the behaviour under test is the passing of time
	s.HandleFailure(nil, sup, child, rs, "three", nil)
	sup.awaitRestart(t)
	if restarts, stops := sup.counts(); restarts != 3 || stops != 0 {
		t.Errorf("after a quiet window: %d restarts, %d stops; want 3, 0", restarts, stops)
	}
	if rs.FailureCount() != 1 {
		t.Errorf("failure count %d after a quiet window, want a fresh count of 1", rs.FailureCount())
	}
}

func TestStrategyCriticalChildStoppedAtOnce(t *testing.T) {
	s := &restartStrategy{backoff: Backoff{Base: time.Millisecond, Max: time.Second}, maxRestarts: 10,
		window: time.Minute, critical: map[string]bool{"store": true}, log: discardLog()}
	sup := newFakeSupervisor()
	s.HandleFailure(nil, sup, actor.NewPID("nonhost", "daemon/store"), actor.NewRestartStatistics(), "disk on fire", nil)
	if restarts, stops := sup.counts(); restarts != 0 || stops != 1 {
		t.Errorf("critical child: %d restarts, %d stops; want 0, 1 (stopped synchronously)", restarts, stops)
	}
}

// Observed lifecycle of the real actor tree.

type panicNow struct{ reason string }

type lifeEvent struct {
	who  string
	what string // started, panic, restarting, stopping, stopped, terminated
	at   time.Time
}

type recorder struct {
	ch chan lifeEvent
}

func (r *recorder) add(who, what string) { r.ch <- lifeEvent{who: who, what: what, at: time.Now()} }

// expect fails unless the next event is who's what.
func (r *recorder) expect(t *testing.T, who, what string) lifeEvent {
	t.Helper()
	select {
	case e := <-r.ch:
		if e.who != who || e.what != what {
			t.Fatalf("next event is %s %s, want %s %s", e.who, e.what, who, what)
		}
		return e
	case <-time.After(waitFor):
		t.Fatalf("no %s %s within %v", who, what, waitFor)
		return lifeEvent{}
	}
}

// observer is a receiver middleware that records lifecycle messages in order
// and panics on panicNow.
func (r *recorder) observer(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		who := childName(c.Self())
		switch m := env.Message.(type) {
		case *actor.Started:
			r.add(who, "started")
		case *actor.Restarting:
			r.add(who, "restarting")
		case *actor.Stopping:
			r.add(who, "stopping")
		case *actor.Stopped:
			r.add(who, "stopped")
		case *panicNow:
			r.add(who, "panic")
			panic(m.reason)
		}
		next(c, env)
	}
}

// spawnTree spawns a parent supervising one child named name with s.
func spawnTree(t *testing.T, s *restartStrategy, name string) (*actor.ActorSystem, *actor.PID, *recorder) {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discardLog() }))
	t.Cleanup(sys.Shutdown)
	rec := &recorder{ch: make(chan lifeEvent, 1000)}
	childProps := actor.PropsFromFunc(func(actor.Context) {}, actor.WithReceiverMiddleware(rec.observer))
	childCh := make(chan *actor.PID, 1)
	parent := actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *actor.Started:
			pid, err := c.SpawnNamed(childProps, name)
			if err != nil {
				panic(err)
			}
			childCh <- pid
		case *actor.Terminated:
			rec.add(childName(m.GetWho()), "terminated")
		}
	}, actor.WithSupervisor(s))
	parentPID, err := sys.Root.SpawnNamed(parent, "daemon")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Root.StopFuture(parentPID).Wait() })
	var child *actor.PID
	select {
	case child = <-childCh:
	case <-time.After(waitFor):
		t.Fatal("child not spawned")
	}
	rec.expect(t, name, "started")
	return sys, child, rec
}

func TestStrategyRestartsWithGrowingDelayThenStops(t *testing.T) {
	const maxRestarts = 4
	base := 20 * time.Millisecond
	s := &restartStrategy{backoff: Backoff{Base: base, Max: time.Minute}, maxRestarts: maxRestarts,
		window: time.Minute, critical: map[string]bool{"store": true}, log: discardLog()}
	sys, child, rec := spawnTree(t, s, "monitor")

	for n := 1; n <= maxRestarts; n++ {
		sys.Root.Send(child, &panicNow{reason: fmt.Sprintf("failure %d", n)})
		failed := rec.expect(t, "monitor", "panic")
		rec.expect(t, "monitor", "restarting")
		started := rec.expect(t, "monitor", "started")
		// The jitter never goes below half the nominal base·2^(n-1): the
		// lower bounds alone show the exponential growth (linear backoff
		// would restart the 4th failure after 80 ms, not at least 80 ms·2).
		minDelay := (base << (n - 1)) / 2
		if got := started.at.Sub(failed.at); got < minDelay {
			t.Errorf("restart %d came %v after the failure, want at least %v", n, got, minDelay)
		}
	}

	// One failure more than maxRestarts within the window: stopped for good.
	sys.Root.Send(child, &panicNow{reason: "the last straw"})
	rec.expect(t, "monitor", "panic")
	rec.expect(t, "monitor", "stopping")
	rec.expect(t, "monitor", "stopped")
	rec.expect(t, "monitor", "terminated")
}

func TestStrategyStopsCriticalChildAtOnce(t *testing.T) {
	s := &restartStrategy{backoff: Backoff{Base: time.Millisecond, Max: time.Second}, maxRestarts: 10,
		window: time.Minute, critical: map[string]bool{"store": true}, log: discardLog()}
	sys, child, rec := spawnTree(t, s, "store")
	sys.Root.Send(child, &panicNow{reason: "corrupt page"})
	rec.expect(t, "store", "panic")
	// Stopping is delivered (the real store closes its database there),
	// then the parent learns the child is gone; no restart in between.
	rec.expect(t, "store", "stopping")
	rec.expect(t, "store", "stopped")
	rec.expect(t, "store", "terminated")
}
