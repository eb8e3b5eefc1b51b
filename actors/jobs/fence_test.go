package jobs

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// fakeFleet is a fleet membership whose fence the test opens and closes.
type fakeFleet struct{ allowed atomic.Bool }

func (f *fakeFleet) Allowed(string) bool { return f.allowed.Load() }
func (f *fakeFleet) FenceReason(string) string {
	return "fleet: etcd is unreachable; this member stopped the job's tries for safety"
}
func (f *fakeFleet) RateLimitSeen(string, time.Time) {}

// The fleet fence stops a fleet job's running try without using an
// attempt (even its last), holds the sheet with the fence's reason, and
// runs it again once ownership is confirmed.
func TestFleetFenceStopsAndRequeuesTheTry(t *testing.T) {
	fleet := &fakeFleet{}
	fleet.allowed.Store(true)
	var (
		mu      sync.Mutex
		tries   int
		started = make(chan struct{}, 4)
		stopped = make(chan struct{}, 4)
	)
	runner := func(ctx context.Context, plan attemptPlan, _ func(sheetrun.Proc), done func(*attemptDone)) {
		mu.Lock()
		tries++
		first := tries == 1
		mu.Unlock()
		now := time.Now()
		started <- struct{}{}
		if !first {
			done(&attemptDone{num: plan.num, try: plan.try, result: sheetrun.Result{Success: true, Started: now, Ended: time.Now()}})
			return
		}
		<-ctx.Done() // a long try: only the fence ends it
		stopped <- struct{}{}
		done(&attemptDone{num: plan.num, try: plan.try, result: sheetrun.Result{Canceled: true, ExitCode: -1, Started: now, Ended: time.Now()}})
	}
	e := newEngineWith(t, config.Defaults(), runner, fleet)
	id := e.submit(t, "fenced", "[defaults]\ninstrument = \"shell\"\nattempts = 1\n[[stage]]\nid = \"s\"\nprompt = \"true\"\n")
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s within 30s", what)
		}
	}
	wait(started, "first try")

	fleet.allowed.Store(false)
	e.system.Root.Send(e.mgr, &FleetFence{JobIDs: []string{id}, Reason: "fleet: stopped before the lease could end"})
	wait(stopped, "stop of the first try")
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := e.ask(t, &messages.JobStatusRequest{JobId: id}).(*messages.JobStatus)
		s := st.GetSheets()[0]
		if s.GetWaitingReason() == fleet.FenceReason(id) {
			if s.GetAttempts() != 0 {
				t.Fatalf("the fenced try used an attempt: attempts = %d", s.GetAttempts())
			}
			if !slices.Contains(s.GetNotes(), "fleet: stopped before the lease could end") {
				t.Errorf("the sheet's notes do not say why it was stopped: %q", s.GetNotes())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sheet is not held by the fence: status %s, waiting reason %q", s.State(), s.GetWaitingReason())
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-started:
		t.Fatal("a try started while the fence stands")
	default:
	}

	fleet.allowed.Store(true)
	e.system.Root.Send(e.mgr, &FenceChanged{})
	st := e.waitFinished(t, id, 30*time.Second)
	if st.GetJob().State() != messages.JobCompleted || st.GetSheets()[0].GetAttempts() != 1 {
		t.Fatalf("job %s, attempts %d; want completed with one attempt", st.GetJob().State(), st.GetSheets()[0].GetAttempts())
	}
}
