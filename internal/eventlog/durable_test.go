package eventlog

import (
	"slices"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// A follower or reader never sees an event the persister has not taken: a
// crash between the two would otherwise leave a follower holding a seq that
// the restarted conductor gives to another event.
func TestNothingIsSeenBeforeItIsStored(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	l := New(10, nil, 16, func([]*messages.Event) {
		entered <- struct{}{}
		<-release
	})
	l.flushAfter = time.Hour // flushed by hand below
	f := l.Follow("", 8)
	defer f.Close()

	l.Publish(ev("a"))
	l.Publish(ev("a"))
	if got, _ := l.History("", 10); len(got) != 0 {
		t.Fatalf("history before storing: seqs %v, want none", seqs(got))
	}
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		l.Flush()
	}()
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("the persister was never called")
	}
	select {
	case e := <-f.C():
		t.Fatalf("follower got seq %d while it was being stored", e.GetSeq())
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-flushed
	var got []int64
	for len(got) < 2 {
		select {
		case e := <-f.C():
			got = append(got, e.GetSeq())
		case <-time.After(waitFor):
			t.Fatalf("follower got %v after storing, want [11 12]", got)
		}
	}
	if !slices.Equal(got, []int64{11, 12}) {
		t.Fatalf("follower got %v, want [11 12]", got)
	}
	if h, _ := l.History("", 10); !slices.Equal(seqs(h), []int64{11, 12}) {
		t.Fatalf("history after storing: %v", seqs(h))
	}
}
