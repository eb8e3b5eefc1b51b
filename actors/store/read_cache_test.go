package store

import (
	"context"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

// readThrough runs the listing and the status of job "a" on the store's
// read pool, as the jobs actor does.
func readThrough(t *testing.T, h *harness) ([]ListedJob, Run) {
	t.Helper()
	type both struct {
		list []ListedJob
		run  Run
	}
	res := h.query(t, func(ctx context.Context, db *DB) (any, error) {
		list, _, err := db.FinishedPage(ctx, FinishedQuery{})
		if err != nil {
			return nil, err
		}
		run, ok, err := db.StatusRun(ctx, "a")
		if !ok && err == nil {
			t.Error("job a not found")
		}
		return both{list, run}, err
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	b := res.Value.(both)
	return b.list, b.run
}

// A history read twice is read once; any write to jobs or sheets makes the
// next read see it, and telemetry (events) leaves the cached answers be.
func TestHistoryReadsCachedUntilAWrite(t *testing.T) {
	h := newHarness(t)
	h.mustWrite(t, &InsertRun{Job: job("a.1", "a", messages.JobCompleted, 1, 2),
		Sheets: []SheetRow{sheet("a.1", 1, messages.SheetCompleted), sheet("a.1", 2, messages.SheetCompleted)}})
	list1, run1 := readThrough(t, h)
	list2, run2 := readThrough(t, h)
	if len(list1) != 1 || &list1[0] != &list2[0] || &run1.Sheets[0] != &run2.Sheets[0] {
		t.Fatalf("a second read of an unchanged history read the database again (list %d)", len(list1))
	}

	h.mustWrite(t, &InsertEvents{Events: []*messages.Event{{Seq: 1, Kind: "job.completed", JobId: "a"}}})
	list3, run3 := readThrough(t, h)
	if &list3[0] != &list1[0] || &run3.Sheets[0] != &run1.Sheets[0] {
		t.Fatal("an event dropped the cached history reads")
	}

	// A sheet changes (as a late correction of a finished run would).
	changed := sheet("a.1", 2, messages.SheetFailed)
	changed.Error = "boom"
	h.mustWrite(t, &SaveSheets{Sheets: []SheetRow{changed}})
	list4, run4 := readThrough(t, h)
	if got := run4.Sheets[1]; got.Status != messages.SheetFailed || got.Error != "boom" {
		t.Fatalf("status after a sheet write: %+v", got)
	}
	if list4[0].Completed != 1 || list4[0].Failed != 1 {
		t.Fatalf("listing after a sheet write: completed %d failed %d, want 1 and 1", list4[0].Completed, list4[0].Failed)
	}

	// A new finished job, and the job row of the first one.
	a := job("a.1", "a", messages.JobFailed, 1, 3)
	h.mustWrite(t, &InsertRun{Job: job("b.1", "b", messages.JobCompleted, 5, 6)}, &SaveJob{Job: a})
	list5, run5 := readThrough(t, h)
	if len(list5) != 2 || list5[0].Job.JobID != "b" || list5[1].Job.Status != messages.JobFailed {
		t.Fatalf("listing after a new job: %+v", list5)
	}
	if run5.Job.Status != messages.JobFailed {
		t.Fatalf("status after a job write: %s", run5.Job.Status)
	}

	// Pruned away: neither listed nor found.
	h.mustWrite(t, &PruneHistory{Keep: 1})
	res := h.query(t, func(ctx context.Context, db *DB) (any, error) {
		list, _, err := db.FinishedPage(ctx, FinishedQuery{})
		if err != nil {
			return nil, err
		}
		_, ok, err := db.StatusRun(ctx, "a")
		return []any{list, ok}, err
	})
	got := res.Value.([]any)
	if list := got[0].([]ListedJob); len(list) != 1 || list[0].Job.JobID != "b" || got[1].(bool) {
		t.Fatalf("after pruning a: listed %+v, a found %v", list, got[1])
	}
}

// An answer read while a write committed is not kept: it may predate it.
func TestReadCacheKeepsNoAnswerAcrossAWrite(t *testing.T) {
	var c readCache
	gen := c.generation()
	c.invalidate() // a write commits while the reads run
	c.keepList(gen, "k", []ListedJob{{}}, 1)
	c.keepRun(gen, "a", Run{})
	if _, _, ok := c.list("k"); ok {
		t.Fatal("kept a listing read before a write")
	}
	if _, ok := c.run("a"); ok {
		t.Fatal("kept a run read before a write")
	}
	gen = c.generation()
	c.keepList(gen, "k", []ListedJob{{}}, 1)
	if _, total, ok := c.list("k"); !ok || total != 1 {
		t.Fatal("did not keep a listing read with no write since")
	}
}

// The excluded jobs are a set: the conductor sends its running jobs in map
// order.
func TestListKeyExcludeIsASet(t *testing.T) {
	a := listKey(FinishedQuery{Limit: 50, Exclude: []string{"x", "y"}})
	b := listKey(FinishedQuery{Limit: 50, Exclude: []string{"y", "x"}})
	if a != b {
		t.Fatalf("%q != %q", a, b)
	}
	for _, q := range []FinishedQuery{{Limit: 0, Exclude: []string{"x", "y"}}, {Limit: 50, Exclude: []string{"x"}},
		{Limit: 50, Exclude: []string{"x", "y"}, Before: true, BeforeNanos: 5, BeforeID: "z"}} {
		if listKey(q) == a {
			t.Fatalf("%+v shares a key with a different query", q)
		}
	}
}
