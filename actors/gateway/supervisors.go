package gateway

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

// supervisorsAsk bounds asking the home's supervisors for conductor-status.
const supervisorsAsk = time.Second

// supervisorsInfo lists the supervisors whose sockets are in dir, with
// their live tries; own is the one this conductor started.
func supervisorsInfo(dir string, own int) []*messages.SupervisorInfo {
	ctx, cancel := context.WithTimeout(context.Background(), supervisorsAsk)
	defer cancel()
	var out []*messages.SupervisorInfo
	for _, f := range supervisor.Find(ctx, dir) {
		if f.Err != nil {
			out = append(out, &messages.SupervisorInfo{Refused: f.Err.Error()})
			continue
		}
		info := &messages.SupervisorInfo{Pid: int64(f.Hello.PID), Version: f.Hello.Version, Own: f.Hello.PID == own}
		for _, t := range f.Hello.Tries {
			if t.Exit == nil {
				info.Tries++
			}
		}
		out = append(out, info)
	}
	// This conductor's own first, then by PID: a stable panel (socket
	// names sort "10036" before "9884").
	slices.SortStableFunc(out, func(a, b *messages.SupervisorInfo) int {
		if a.GetOwn() != b.GetOwn() {
			if a.GetOwn() {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.GetPid(), b.GetPid())
	})
	return out
}

// supervisorLook shares one look at the home's supervisors among the
// conductor-status requests that arrive while it runs: each look dials every
// supervisor, and 200 clients asking at once would otherwise queue 200 looks
// at the same sockets. A request that joins gets an answer at most one look
// old.
type supervisorLook struct {
	look    func(dir string, own int) []*messages.SupervisorInfo // nil: supervisorsInfo
	mu      sync.Mutex
	pending *supervisorAnswer
}

type supervisorAnswer struct {
	done   chan struct{}
	infos  []*messages.SupervisorInfo
	joined int // requests waiting for this look besides its own (under supervisorLook.mu)
}

func (l *supervisorLook) get(dir string, own int) []*messages.SupervisorInfo {
	l.mu.Lock()
	if a := l.pending; a != nil {
		a.joined++
		l.mu.Unlock()
		<-a.done
		out := make([]*messages.SupervisorInfo, len(a.infos))
		for i, s := range a.infos {
			out[i] = proto.Clone(s).(*messages.SupervisorInfo)
		}
		return out
	}
	a := &supervisorAnswer{done: make(chan struct{})}
	l.pending = a
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.pending = nil
		l.mu.Unlock()
		close(a.done)
	}()
	look := l.look
	if look == nil {
		look = supervisorsInfo
	}
	a.infos = look(dir, own)
	out := make([]*messages.SupervisorInfo, len(a.infos))
	for i, s := range a.infos {
		out[i] = proto.Clone(s).(*messages.SupervisorInfo)
	}
	return out
}
