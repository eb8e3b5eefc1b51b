package mailbox

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// recorder is a Sender that keeps what it was asked to send.
type recorder struct {
	mu   sync.Mutex
	got  []any
	sent chan struct{}
}

func newRecorder() *recorder { return &recorder{sent: make(chan struct{}, 16)} }

func (r *recorder) Send(_ *actor.PID, m interface{}) {
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
	r.sent <- struct{}{}
}

func (r *recorder) wait(t *testing.T) any {
	t.Helper()
	select {
	case <-r.sent:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing was sent")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[len(r.got)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

var self = actor.NewPID("local", "self")

func TestGo(t *testing.T) {
	type failure struct{ err error }
	failed := func(err error) any { return failure{err} }
	cases := []struct {
		name  string
		work  func() any
		check func(t *testing.T, got any)
	}{
		{"result is sent", func() any { return 42 }, func(t *testing.T, got any) {
			if got != 42 {
				t.Fatalf("got %v", got)
			}
		}},
		{"panic becomes the failure message", func() any { panic("boom") }, func(t *testing.T, got any) {
			f, ok := got.(failure)
			if !ok || !strings.Contains(f.err.Error(), "boom") {
				t.Fatalf("got %#v", got)
			}
		}},
		{"panic with an error value", func() any { panic(errors.New("bad state")) }, func(t *testing.T, got any) {
			if f, ok := got.(failure); !ok || !strings.Contains(f.err.Error(), "bad state") {
				t.Fatalf("got %#v", got)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRecorder()
			Go(r, self, c.work, failed)
			c.check(t, r.wait(t))
		})
	}
}

func TestGoSendsNothingForNil(t *testing.T) {
	r := newRecorder()
	done := make(chan struct{})
	Go(r, self, func() any { defer close(done); return nil }, nil)
	<-done
	// A panic with no failure message is swallowed, not a crash.
	Go(r, self, func() any { panic("quiet") }, nil)
	Go(r, self, func() any { return "last" }, nil)
	if got := r.wait(t); got != "last" {
		t.Fatalf("got %v", got)
	}
	if n := r.count(); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
}

func TestProtect(t *testing.T) {
	if err := Protect(func() {}); err != nil {
		t.Fatal(err)
	}
	err := Protect(func() { var m map[string]int; m["x"] = 1 })
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "nil map") || len(pe.Stack) == 0 {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "goroutine") {
		t.Fatalf("the message carries the stack: %v", err)
	}
}

func TestAfter(t *testing.T) {
	r := newRecorder()
	start := time.Now()
	After(r, self, 30*time.Millisecond, "tick")
	if got := r.wait(t); got != "tick" {
		t.Fatalf("got %v", got)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("sent after %s, before its delay", el)
	}
}

func TestAfterStop(t *testing.T) {
	r := newRecorder()
	stopped := After(r, self, time.Hour, "never")
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	var none *Timer
	if none.Stop() {
		t.Fatal("Stop of a nil timer reported true")
	}
	// A later message proves the stopped one did not go out before it.
	After(r, self, 0, "now")
	if got := r.wait(t); got != "now" {
		t.Fatalf("got %v", got)
	}
	if n := r.count(); n != 1 {
		t.Fatalf("%d messages sent, want 1", n)
	}
}

func TestAfterGo(t *testing.T) {
	r := newRecorder()
	AfterGo(r, self, time.Millisecond, func() any { panic("late") }, func(err error) any { return err.Error() })
	if got, _ := r.wait(t).(string); !strings.Contains(got, "late") {
		t.Fatalf("got %q", got)
	}
}
