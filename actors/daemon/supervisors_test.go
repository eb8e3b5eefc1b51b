package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

type lostChan chan struct{}

func (l lostChan) Lost() <-chan struct{} { return l }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The conductor's supervisor dies and every try to start a new one fails:
// the conductor says so (log, events, the note conductor-status shows) and
// runs tries itself instead of dialling a dead socket.
func TestSupervisorThatCannotBeReplaced(t *testing.T) {
	var logs lockedBuffer
	lost := make(lostChan)
	starts := 0
	s := &ownSupervisor{log: slog.New(slog.NewTextHandler(&logs, nil)), stop: make(chan struct{}), backoff: time.Millisecond,
		att: lost, start: func(context.Context, func(int)) (supervisor.Client, int, lossWatch, error) {
			starts++
			return supervisor.Client{}, 0, nil, errors.New("no exec")
		}}
	s.own.Set(&supervisor.Client{Path: "/nowhere/1.sock"})
	s.pid.Store(1)
	system := actor.NewActorSystem()
	events := make(chan *messages.Event, 8)
	system.EventStream.Subscribe(func(e any) {
		if ev, ok := e.(*messages.Event); ok {
			events <- ev
		}
	})
	s.watch(system, func(int) {}, make(chan struct{}))
	defer s.close()
	close(lost)
	var got []string
	for len(got) < 2 {
		select {
		case e := <-events:
			got = append(got, e.Kind+"/"+e.Status)
		case <-time.After(10 * time.Second):
			t.Fatalf("events %v; log:\n%s", got, logs.String())
		}
	}
	if strings.Join(got, " ") != "supervisor/lost supervisor/none" {
		t.Errorf("events %v", got)
	}
	if starts != respawnTries {
		t.Errorf("%d starts, want %d", starts, respawnTries)
	}
	if _, err := s.clientOrNil().Current(); !errors.Is(err, supervisor.ErrNoSupervisor) {
		t.Errorf("client after the loss: %v, want no supervisor", err)
	}
	if s.currentPID() != 0 || !strings.Contains(s.fallbackNote(), "no supervisor") {
		t.Errorf("pid %d, note %q", s.currentPID(), s.fallbackNote())
	}
	for _, want := range []string{"supervisor died", "cannot restart the supervisor"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}
