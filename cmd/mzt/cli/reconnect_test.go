package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/client"
)

// fakeClock is a reconnector's clock and sleep: sleeping moves time on.
type fakeClock struct {
	t      time.Time
	pauses []time.Duration
}

func (f *fakeClock) now() time.Time { return f.t }
func (f *fakeClock) sleep(_ context.Context, d time.Duration) error {
	f.pauses = append(f.pauses, d)
	f.t = f.t.Add(d)
	return nil
}

func newTestReconnector(bound time.Duration, probe func(context.Context) error) (*reconnector, *fakeClock, *bytes.Buffer) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	var stderr bytes.Buffer
	return &reconnector{bound: bound, stderr: &stderr, probe: probe, sleep: clk.sleep, now: clk.now, reached: true}, clk, &stderr
}

func TestReconnectResumesWhenTheConductorAnswers(t *testing.T) {
	probes := 0
	r, clk, stderr := newTestReconnector(time.Minute, func(context.Context) error {
		probes++
		if probes < 4 {
			return client.ErrNotRunning
		}
		return nil
	})
	calls := 0
	err := r.run(context.Background(), func() error {
		calls++
		if calls == 1 {
			return client.ErrConnectionLost
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("run = %v after %d calls, want nil after 2", err, calls)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	if len(clk.pauses) != len(want) {
		t.Fatalf("pauses %v, want %v", clk.pauses, want)
	}
	for i := range want {
		if clk.pauses[i] != want[i] {
			t.Fatalf("pauses %v, want %v", clk.pauses, want)
		}
	}
	if n := strings.Count(stderr.String(), "conductor restarting"); n != 1 {
		t.Errorf("stderr says restarting %d times, want once:\n%s", n, stderr)
	}
}

func TestReconnectGivesUpPastTheBound(t *testing.T) {
	r, clk, stderr := newTestReconnector(60*time.Second, func(context.Context) error { return client.ErrNotRunning })
	start := clk.t
	calls := 0
	err := r.run(context.Background(), func() error { calls++; return client.ErrConnectionLost })
	var ce *cliError
	if !errors.As(err, &ce) || ce.code != exitFailed || ce.msg != "the conductor did not come back within 60s" || ce.hint != "mzt start" {
		t.Fatalf("run = %#v, want exit 1 'the conductor did not come back within 60s' / mzt start", err)
	}
	if calls != 1 {
		t.Errorf("op called %d times, want 1 (the conductor never answered)", calls)
	}
	if waited := clk.t.Sub(start); waited != 60*time.Second {
		t.Errorf("waited %v, want exactly the bound", waited)
	}
	for _, p := range clk.pauses {
		if p > reconnectMaxPause {
			t.Errorf("a pause of %v is over the %v cap", p, reconnectMaxPause)
		}
	}
	if n := strings.Count(stderr.String(), "conductor restarting"); n != 1 {
		t.Errorf("stderr says restarting %d times, want once:\n%s", n, stderr)
	}
}

func TestReconnectZeroGivesUpAtOnce(t *testing.T) {
	r, clk, stderr := newTestReconnector(0, func(context.Context) error { t.Fatal("probed with a bound of 0"); return nil })
	err := r.run(context.Background(), func() error { return client.ErrConnectionLost })
	if !errors.Is(err, client.ErrConnectionLost) {
		t.Fatalf("run = %v, want the error as it came", err)
	}
	if len(clk.pauses) != 0 || stderr.Len() != 0 {
		t.Errorf("waited %v and said %q with a bound of 0", clk.pauses, stderr)
	}
}

func TestReconnectPassesOtherErrorsThrough(t *testing.T) {
	r, _, _ := newTestReconnector(time.Minute, func(context.Context) error { t.Fatal("probed after a non-transport error"); return nil })
	calls := 0
	err := r.run(context.Background(), func() error { calls++; return client.ErrJobNotFound })
	if !errors.Is(err, client.ErrJobNotFound) || calls != 1 {
		t.Fatalf("run = %v after %d calls, want ErrJobNotFound after 1", err, calls)
	}
}

func TestReconnectEachOutageHasItsOwnBound(t *testing.T) {
	// Two outages of 40s each under a bound of 60s: neither is over it.
	down := time.Time{}
	var clk *fakeClock
	r, clk, _ := newTestReconnector(60*time.Second, func(context.Context) error {
		if clk.t.Sub(down) < 40*time.Second {
			return client.ErrNotRunning
		}
		return nil
	})
	calls := 0
	err := r.run(context.Background(), func() error {
		calls++
		if calls <= 2 {
			down = clk.t
			return client.ErrConnectionLost
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("run = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestReconnectNeverReachedFailsAtOnce(t *testing.T) {
	r, clk, stderr := newTestReconnector(time.Minute, func(context.Context) error { t.Fatal("probed a conductor never reached"); return nil })
	r.reached = false
	err := r.run(context.Background(), func() error { return client.ErrNotRunning })
	if !errors.Is(err, client.ErrNotRunning) {
		t.Fatalf("run = %v, want ErrNotRunning as it came", err)
	}
	if len(clk.pauses) != 0 || stderr.Len() != 0 {
		t.Errorf("waited %v and said %q for a conductor that was never there", clk.pauses, stderr)
	}
}
