package eventlog

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

const waitFor = 10 * time.Second

func ev(job string) *messages.Event { return &messages.Event{Kind: "test", JobId: job} }

func seqs(events []*messages.Event) []int64 {
	out := make([]int64, 0, len(events))
	for _, e := range events {
		out = append(out, e.GetSeq())
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// recorder is a Persist that keeps every batch it was handed.
type recorder struct {
	mu      sync.Mutex
	batches [][]*messages.Event
}

func (r *recorder) persist(batch []*messages.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, slices.Clone(batch))
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches)
}

func (r *recorder) all() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for _, b := range r.batches {
		out = append(out, seqs(b)...)
	}
	return out
}

// noTimer keeps the 100 ms flush timer out of a test that flushes by hand.
func noTimer(l *Log) *Log {
	l.flushAfter = time.Hour
	return l
}

func TestSeqContinuesAfterLastSeq(t *testing.T) {
	l := New(41, nil, 8, nil)
	before := time.Now().UnixNano()
	first := ev("a")
	got := l.Publish(first)
	if got != first {
		t.Errorf("Publish returned %p, want the event it was given (%p)", got, first)
	}
	stamped := &messages.Event{Kind: "test", TimeUnixNano: 12345}
	l.Publish(stamped)
	third := l.Publish(ev("b"))

	if s := []int64{first.GetSeq(), stamped.GetSeq(), third.GetSeq()}; !slices.Equal(s, []int64{42, 43, 44}) {
		t.Errorf("seqs after lastSeq 41 = %v, want [42 43 44]", s)
	}
	if first.GetTimeUnixNano() < before || first.GetTimeUnixNano() > time.Now().UnixNano() {
		t.Errorf("unset time filled with %d, want the publish time (after %d)", first.GetTimeUnixNano(), before)
	}
	if stamped.GetTimeUnixNano() != 12345 {
		t.Errorf("a set time was overwritten: %d, want 12345", stamped.GetTimeUnixNano())
	}

	// Preloaded history does not renumber: the next seq follows lastSeq.
	hist := []*messages.Event{{Seq: 9, JobId: "a"}, {Seq: 10, JobId: "a"}}
	l = New(10, hist, 8, nil)
	if e := l.Publish(ev("a")); e.GetSeq() != 11 {
		t.Errorf("first seq after history ending at 10 = %d, want 11", e.GetSeq())
	}
	if got, _ := l.Recent("", 10); !slices.Equal(seqs(got), []int64{9, 10, 11}) {
		t.Errorf("Recent after preloaded history = %v, want [9 10 11]", seqs(got))
	}
}

func TestRecentFiltersOrdersAndLimits(t *testing.T) {
	l := New(0, nil, 5, nil)
	for _, job := range []string{"a", "b", "a"} { // seq 1, 2, 3
		l.Publish(ev(job))
	}
	// The ring is not full yet: memory holds everything there is.
	got, truncated := l.Recent("a", 10)
	if !slices.Equal(seqs(got), []int64{1, 3}) || truncated {
		t.Errorf("Recent(a, 10) before wrap = %v truncated %v, want [1 3] false", seqs(got), truncated)
	}
	got, truncated = l.Recent("", 2)
	if !slices.Equal(seqs(got), []int64{2, 3}) || truncated {
		t.Errorf("Recent(\"\", 2) = %v truncated %v, want the newest two oldest first: [2 3] false", seqs(got), truncated)
	}
	if got, _ := l.Recent("nobody", 10); len(got) != 0 {
		t.Errorf("Recent of an unknown job = %v, want none", seqs(got))
	}
	if _, before := l.History("a", 10); before != 0 {
		t.Errorf("History before the wrap says older events may be elsewhere (before %d)", before)
	}

	// Wrap the ring: seq 1..8 published, 4..8 stay.
	for _, job := range []string{"b", "a", "b", "a", "b"} { // seq 4..8
		l.Publish(ev(job))
	}
	got, truncated = l.Recent("", 10)
	if !slices.Equal(seqs(got), []int64{4, 5, 6, 7, 8}) || !truncated {
		t.Errorf("Recent(\"\", 10) after wrap = %v truncated %v, want [4 5 6 7 8] true", seqs(got), truncated)
	}
	got, truncated = l.Recent("", 3)
	if !slices.Equal(seqs(got), []int64{6, 7, 8}) || truncated {
		t.Errorf("Recent(\"\", 3) after wrap = %v truncated %v, want [6 7 8] false (the limit was met)", seqs(got), truncated)
	}
	got, truncated = l.Recent("a", 10)
	if !slices.Equal(seqs(got), []int64{5, 7}) || !truncated {
		t.Errorf("Recent(a, 10) after wrap = %v truncated %v, want [5 7] true", seqs(got), truncated)
	}
	got, truncated = l.Recent("a", 1)
	if !slices.Equal(seqs(got), []int64{7}) || truncated {
		t.Errorf("Recent(a, 1) after wrap = %v truncated %v, want [7] false", seqs(got), truncated)
	}
	if _, before := l.History("a", 10); before != 4 {
		t.Errorf("History after wrap: older events before seq %d, want before 4 (the oldest in memory)", before)
	}

	// Wrap more than once: the order stays oldest first.
	for range 7 { // seq 9..15
		l.Publish(ev("c"))
	}
	if got, _ := l.Recent("", 100); !slices.Equal(seqs(got), seqRange(11, 15)) {
		t.Errorf("Recent after wrapping twice = %v, want %v", seqs(got), seqRange(11, 15))
	}

	// History longer than the ring keeps its newest part.
	hist := make([]*messages.Event, 0, 10)
	for s := int64(1); s <= 10; s++ {
		hist = append(hist, &messages.Event{Seq: s, JobId: "h"})
	}
	l = New(10, hist, 4, nil)
	got, truncated = l.Recent("h", 10)
	if !slices.Equal(seqs(got), []int64{7, 8, 9, 10}) || !truncated {
		t.Errorf("Recent over a long history = %v truncated %v, want [7 8 9 10] true", seqs(got), truncated)
	}

	if got, before := New(0, nil, 4, nil).History("", 10); len(got) != 0 || before != 0 {
		t.Errorf("History of an empty log = %v, before %d; want nothing", seqs(got), before)
	}
}

// receive reads n events from f or fails after waitFor.
func receive(t *testing.T, f *Follower, n int) []*messages.Event {
	t.Helper()
	var out []*messages.Event
	deadline := time.After(waitFor)
	for len(out) < n {
		select {
		case e := <-f.C():
			out = append(out, e)
		case <-deadline:
			t.Fatalf("follower received %d of %d events within %s", len(out), n, waitFor)
		}
	}
	return out
}

func TestFollowerGetsOnlyItsJobInOrder(t *testing.T) {
	l := New(0, nil, 16, nil)
	l.Publish(ev("a")) // seq 1: before following, not delivered
	fa := l.Follow("a", 16)
	all := l.Follow("", 16)
	defer fa.Close()
	defer all.Close()
	for _, job := range []string{"b", "a", "b", "a", "a", "c"} { // seq 2..7
		l.Publish(ev(job))
	}
	got := receive(t, fa, 3)
	for _, e := range got {
		if e.GetJobId() != "a" {
			t.Errorf("follower of a got an event of %q", e.GetJobId())
		}
	}
	if !slices.Equal(seqs(got), []int64{3, 5, 6}) {
		t.Errorf("follower of a got %v, want [3 5 6]", seqs(got))
	}
	if n := len(fa.C()); n != 0 {
		t.Errorf("follower of a has %d more events waiting, want none", n)
	}
	if got := receive(t, all, 6); !slices.Equal(seqs(got), seqRange(2, 7)) {
		t.Errorf("follower of every job got %v, want %v", seqs(got), seqRange(2, 7))
	}

	// Close unsubscribes: nothing more arrives and nothing counts as dropped.
	fa.Close()
	l.Publish(ev("a"))
	if n := len(fa.C()); n != 0 {
		t.Errorf("closed follower received %d events", n)
	}
	if n := fa.TakeDropped(); n != 0 {
		t.Errorf("closed follower counted %d drops", n)
	}
}

func TestFullFollowerNeverBlocksPublish(t *testing.T) {
	l := New(0, nil, 64, nil)
	slow := l.Follow("", 2)
	other := l.Follow("a", 1) // full after one event of a; events of b are not its drops
	defer slow.Close()
	defer other.Close()

	published := make(chan struct{})
	go func() {
		defer close(published)
		l.Publish(ev("a"))
		for range 9 {
			l.Publish(ev("b"))
		}
	}()
	select {
	case <-published:
	case <-time.After(waitFor):
		t.Fatal("Publish blocked on a follower whose buffer was full")
	}

	if n := slow.TakeDropped(); n != 8 {
		t.Errorf("TakeDropped = %d, want 8 (10 published, buffer 2)", n)
	}
	if n := slow.TakeDropped(); n != 0 {
		t.Errorf("second TakeDropped = %d, want 0 (the count resets)", n)
	}
	if got := receive(t, slow, 2); !slices.Equal(seqs(got), []int64{1, 2}) {
		t.Errorf("slow follower kept %v, want the first two [1 2]", seqs(got))
	}
	if n := other.TakeDropped(); n != 0 {
		t.Errorf("follower of a counted %d drops of other jobs' events", n)
	}

	// Drained, it receives again, and a new overflow is counted afresh.
	l.Publish(ev("b")) // 11
	l.Publish(ev("b")) // 12
	l.Publish(ev("b")) // 13: dropped
	l.Publish(ev("a")) // 14: dropped for slow; dropped for other (still holds 1)
	if got := receive(t, slow, 2); !slices.Equal(seqs(got), []int64{11, 12}) {
		t.Errorf("after draining, slow follower got %v, want [11 12]", seqs(got))
	}
	if n := slow.TakeDropped(); n != 2 {
		t.Errorf("TakeDropped after the second overflow = %d, want 2", n)
	}
	if n := other.TakeDropped(); n != 1 {
		t.Errorf("follower of a: TakeDropped = %d, want 1", n)
	}
}

func TestFlushPersistsPendingInOrderOnce(t *testing.T) {
	rec := &recorder{}
	l := noTimer(New(100, nil, 8, rec.persist))
	l.Flush()
	if n := rec.calls(); n != 0 {
		t.Fatalf("Flush with nothing pending called persist %d times", n)
	}
	for range 5 {
		l.Publish(ev("a")) // 101..105
	}
	l.Flush()
	l.Flush()
	if n := rec.calls(); n != 1 {
		t.Fatalf("two Flushes of one pending batch called persist %d times, want 1", n)
	}
	for range 2 {
		l.Publish(ev("b")) // 106, 107
	}
	l.Flush()
	rec.mu.Lock()
	batches := [][]int64{seqs(rec.batches[0]), seqs(rec.batches[1])}
	rec.mu.Unlock()
	if !slices.Equal(batches[0], seqRange(101, 105)) || !slices.Equal(batches[1], []int64{106, 107}) {
		t.Errorf("batches = %v, want [[101..105] [106 107]]", batches)
	}

	// No persister: publishing keeps nothing pending.
	l = New(0, nil, 8, nil)
	l.Publish(ev("a"))
	l.Flush() // must not call a nil persist
	l.mu.Lock()
	pending, timer := len(l.pending), l.timer
	l.mu.Unlock()
	if pending != 0 || timer != nil {
		t.Errorf("without a persister: %d pending, timer %v; want none", pending, timer)
	}
}

func TestTimerFlushesWithin100ms(t *testing.T) {
	batches := make(chan []*messages.Event, 16)
	l := New(0, nil, 8, func(b []*messages.Event) { batches <- slices.Clone(b) })
	start := time.Now()
	for range 3 {
		l.Publish(ev("a"))
	}
	var got []int64
	deadline := time.After(waitFor)
	for len(got) < 3 {
		select {
		case b := <-batches:
			if len(got) == 0 {
				if waited := time.Since(start); waited < 100*time.Millisecond {
					t.Errorf("first timed flush after %s, want no earlier than 100ms", waited)
				}
			}
			got = append(got, seqs(b)...)
		case <-deadline:
			t.Fatalf("timer flushed %v within %s, want [1 2 3]", got, waitFor)
		}
	}
	if !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("timer flushed %v, want [1 2 3] once each in order", got)
	}
	// The timer disarmed and nothing stays pending; a new publish re-arms it.
	l.mu.Lock()
	pending, timer := len(l.pending), l.timer
	l.mu.Unlock()
	if pending != 0 || timer != nil {
		t.Errorf("after the timed flush: %d pending, timer armed %v", pending, timer != nil)
	}
	l.Publish(ev("a"))
	select {
	case b := <-batches:
		if !slices.Equal(seqs(b), []int64{4}) {
			t.Errorf("second timed flush = %v, want [4]", seqs(b))
		}
	case <-time.After(waitFor):
		t.Fatal("a publish after a timed flush was never flushed")
	}
	l.Flush()
	select {
	case b := <-batches:
		t.Errorf("flush after everything was persisted handed over %v again", seqs(b))
	default:
	}
}

func TestCloseEndsFollowersAndIgnoresLaterPublish(t *testing.T) {
	rec := &recorder{}
	l := noTimer(New(0, nil, 8, rec.persist))
	f1, f2 := l.Follow("", 8), l.Follow("a", 8)
	l.Publish(ev("a"))
	l.Publish(ev("b"))
	l.Close()

	if got := rec.all(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("Close persisted %v, want the pending [1 2]", got)
	}
	for i, f := range []*Follower{f1, f2} {
		select {
		case <-f.Done():
		default:
			t.Errorf("follower %d: Done not closed by Close", i)
		}
	}

	late := ev("a")
	got := l.Publish(late)
	if got.GetSeq() != 0 {
		t.Errorf("Publish after Close numbered the event %d, want it ignored", got.GetSeq())
	}
	if r, _ := l.Recent("", 10); !slices.Equal(seqs(r), []int64{1, 2}) {
		t.Errorf("Recent after a late publish = %v, want [1 2]", seqs(r))
	}
	if n := len(f1.C()); n != 2 {
		t.Errorf("follower of every job holds %d events, want the 2 from before Close", n)
	}
	l.Flush()
	l.Close() // a second Close is harmless
	if got := rec.all(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("after a late publish persisted %v, want only [1 2]", got)
	}

	// Following a closed log ends at once.
	f3 := l.Follow("", 1)
	select {
	case <-f3.Done():
	default:
		t.Error("Follow on a closed log: Done not closed")
	}
	f3.Close() // must not panic without a subscription
}

// Concurrent publishers, a follower, readers and flushes: every event gets a
// distinct seq, is persisted exactly once, and the follower sees seqs rising.
func TestConcurrentPublishIsConsistent(t *testing.T) {
	const writers, each = 4, 250
	rec := &recorder{}
	l := New(0, nil, 64, rec.persist)
	f := l.Follow("", writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Publish(ev(fmt.Sprint(w)))
				if i%50 == 0 {
					l.Recent(fmt.Sprint(w), 10)
					l.Flush()
				}
			}
		}()
	}
	wg.Wait()
	l.Close()

	got := receive(t, f, writers*each)
	if !slices.IsSorted(seqs(got)) {
		t.Error("follower received seqs out of order")
	}
	persisted := rec.all()
	slices.Sort(persisted)
	if !slices.Equal(persisted, seqRange(1, writers*each)) {
		t.Errorf("persisted %d events, want 1..%d each exactly once", len(persisted), writers*each)
	}
	rec.mu.Lock()
	for i, b := range rec.batches {
		if !slices.IsSorted(seqs(b)) {
			t.Errorf("batch %d out of order: %v", i, seqs(b))
		}
	}
	rec.mu.Unlock()
}
