// Package eventlog orders the conductor's events: it gives each a sequence
// number, keeps the newest in memory for the live views, hands them to a
// persister in batches, and fans them out to followers. Publishing never
// blocks: a follower that does not keep up loses events, and is told how many.
package eventlog

import (
	"sync"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// Persist stores a batch of events (in order) and returns once they are
// stored or it gave up; it runs off the publisher's path, from a timer.
type Persist func([]*messages.Event)

// Log is the conductor's event log. The zero value is not usable; use New.
type Log struct {
	persist    Persist
	flushAfter time.Duration
	// flushing is held across persist, so batches reach it in order and
	// Close returns only once the last one has been handed over.
	flushing sync.Mutex

	mu  sync.Mutex
	seq int64
	// durable is the highest seq the persister has taken (stored, or given
	// up on). Readers and followers see nothing beyond it: a follower that
	// resumes after the last seq it saw would otherwise miss or see twice
	// what a crash lost before it was stored and a restart numbered again.
	durable int64
	ring    []*messages.Event // newest ringSize events, oldest first once full
	next    int               // where the next event goes in ring once full
	full    bool
	pending []*messages.Event
	timer   *time.Timer
	subs    map[*Follower]struct{}
	closed  bool
}

// DefaultRing is how many recent events stay in memory.
const DefaultRing = 4096

// New starts a log after lastSeq (the highest seq already stored), with the
// given history preloaded (oldest first).
func New(lastSeq int64, history []*messages.Event, ringSize int, persist Persist) *Log {
	l := &Log{persist: persist, flushAfter: 100 * time.Millisecond, seq: lastSeq, durable: lastSeq,
		ring: make([]*messages.Event, 0, ringSize), subs: map[*Follower]struct{}{}}
	for _, e := range history {
		l.remember(e)
	}
	return l
}

// Publish records ev (its seq and, when unset, its time are filled in) and
// returns the recorded copy. Followers and readers get it once the persister
// has taken it.
func (l *Log) Publish(ev *messages.Event) *messages.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ev
	}
	l.seq++
	ev.Seq = l.seq
	if ev.TimeUnixNano == 0 {
		ev.TimeUnixNano = time.Now().UnixNano()
	}
	l.remember(ev)
	if l.persist == nil {
		l.durable = ev.Seq
		for f := range l.subs {
			f.offer(ev)
		}
		return ev
	}
	l.pending = append(l.pending, ev)
	if l.timer == nil {
		l.timer = time.AfterFunc(l.flushAfter, l.Flush)
	}
	return ev
}

func (l *Log) remember(ev *messages.Event) {
	if cap(l.ring) == 0 {
		return
	}
	if !l.full {
		l.ring = append(l.ring, ev)
		l.full = len(l.ring) == cap(l.ring)
		return
	}
	l.ring[l.next] = ev
	l.next = (l.next + 1) % len(l.ring)
}

// Flush hands pending events to the persister now.
func (l *Log) Flush() {
	l.flushing.Lock()
	defer l.flushing.Unlock()
	l.mu.Lock()
	batch := l.pending
	l.pending = nil
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	l.persist(batch)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.durable = batch[len(batch)-1].GetSeq()
	for _, ev := range batch {
		for f := range l.subs {
			f.offer(ev)
		}
	}
}

// Close flushes and ends every follower; later publishes are ignored.
func (l *Log) Close() {
	l.Flush()
	l.mu.Lock()
	l.closed = true
	for f := range l.subs {
		f.end()
	}
	l.subs = map[*Follower]struct{}{}
	l.mu.Unlock()
}

// Recent returns the newest events in memory of one job ("" = all), at most
// limit, oldest first, and whether memory may be missing older ones (so the
// caller should look in the store before the first returned seq).
func (l *Log) Recent(jobID string, limit int) (events []*messages.Event, truncated bool) {
	events, before := l.History(jobID, limit)
	return events, before > 0
}

// History is Recent with, in one look, where memory ends: when before > 0,
// older events of the job may be in the store, all with seq < before.
func (l *Log) History(jobID string, limit int) (events []*messages.Event, before int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ordered := l.ordered()
	for i := len(ordered) - 1; i >= 0 && len(events) < limit; i-- {
		if ordered[i].GetSeq() > l.durable {
			continue // not stored yet
		}
		if jobID == "" || ordered[i].GetJobId() == jobID {
			events = append(events, ordered[i])
		}
	}
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	if len(events) < limit && l.full && len(ordered) > 0 {
		before = ordered[0].GetSeq()
	}
	return events, before
}

func (l *Log) ordered() []*messages.Event {
	if !l.full {
		return l.ring
	}
	out := make([]*messages.Event, 0, len(l.ring))
	out = append(out, l.ring[l.next:]...)
	return append(out, l.ring[:l.next]...)
}

// Follow subscribes to new events of one job ("" = all). buffer bounds what
// may wait for a slow reader; beyond it events are dropped and counted.
func (l *Log) Follow(jobID string, buffer int) *Follower {
	f := &Follower{jobID: jobID, c: make(chan *messages.Event, buffer), done: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		f.end()
		return f
	}
	l.subs[f] = struct{}{}
	f.unsubscribe = func() {
		l.mu.Lock()
		delete(l.subs, f)
		l.mu.Unlock()
	}
	return f
}

// Follower receives new events. Read C until Done is closed.
type Follower struct {
	jobID       string
	c           chan *messages.Event
	done        chan struct{}
	unsubscribe func()
	mu          sync.Mutex
	dropped     int64
	ended       bool
}

// C delivers events in order.
func (f *Follower) C() <-chan *messages.Event { return f.c }

// Done is closed when the log closes.
func (f *Follower) Done() <-chan struct{} { return f.done }

// TakeDropped returns how many events were dropped since the last call.
func (f *Follower) TakeDropped() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.dropped
	f.dropped = 0
	return n
}

// Close unsubscribes.
func (f *Follower) Close() {
	if f.unsubscribe != nil {
		f.unsubscribe()
	}
}

// offer is called with the log's lock held; it never blocks.
func (f *Follower) offer(ev *messages.Event) {
	if f.jobID != "" && ev.GetJobId() != f.jobID {
		return
	}
	select {
	case f.c <- ev:
	default:
		f.mu.Lock()
		f.dropped++
		f.mu.Unlock()
	}
}

func (f *Follower) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ended {
		f.ended = true
		close(f.done)
	}
}
