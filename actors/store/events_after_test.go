package store

import (
	"context"
	"slices"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

// A resuming follower's pages: everything after a seq, oldest first, of one
// job or all, a page at a time.
func TestEventsAfter(t *testing.T) {
	h := newHarness(t)
	var all []*messages.Event
	for seq := int64(1); seq <= 10; seq++ {
		job := "a"
		if seq%2 == 0 {
			job = "b"
		}
		all = append(all, telEvent(seq, job))
	}
	h.mustWrite(t, &InsertEvents{Events: all})
	for _, c := range []struct {
		job   string
		after int64
		limit int
		want  []int64
	}{
		{"", 0, 100, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"", 7, 100, []int64{8, 9, 10}},
		{"", 2, 3, []int64{3, 4, 5}}, // the oldest page first
		{"a", 4, 100, []int64{5, 7, 9}},
		{"b", 9, 100, []int64{10}},
		{"", 10, 100, []int64{}},
		{"nobody", 0, 100, []int64{}},
	} {
		got, err := h.db.EventsAfter(context.Background(), c.job, c.after, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if seqs := eventSeqs(got); !slices.Equal(seqs, c.want) {
			t.Errorf("EventsAfter(%q, %d, %d) = %v, want %v", c.job, c.after, c.limit, seqs, c.want)
		}
	}
}
