package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/messages"
)

const waitFor = 10 * time.Second

func newSystem(t *testing.T) *actor.ActorSystem {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discardLog() }))
	t.Cleanup(sys.Shutdown)
	return sys
}

// probe is an actor that hands every user message it receives to the test.
type probe struct {
	pid *actor.PID
	ch  chan any
}

func newProbe(t *testing.T, sys *actor.ActorSystem) *probe {
	t.Helper()
	p := &probe{ch: make(chan any, 4096)}
	p.pid = sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
			return
		}
		p.ch <- c.Message()
	}))
	t.Cleanup(func() { sys.Root.Stop(p.pid) })
	return p
}

func (p *probe) next(t *testing.T) any {
	t.Helper()
	select {
	case m := <-p.ch:
		return m
	case <-time.After(waitFor):
		t.Fatal("probe: no message within", waitFor)
		return nil
	}
}

func (p *probe) writeDone(t *testing.T) *WriteDone {
	t.Helper()
	m := p.next(t)
	wd, ok := m.(*WriteDone)
	if !ok {
		t.Fatalf("probe got %T, want *WriteDone", m)
	}
	return wd
}

// harness is a running store actor on a fresh database.
type harness struct {
	sys   *actor.ActorSystem
	db    *DB
	store *actor.PID
	probe *probe
	actor *Actor // the instance, for tests that must see its queue
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	sys := newSystem(t)
	db := openDB(t, filepath.Join(t.TempDir(), "state.db"), discardLog())
	h := &harness{sys: sys, db: db, probe: newProbe(t, sys)}
	created := make(chan *Actor, 1)
	props := actor.PropsFromProducer(func() actor.Actor {
		a := &Actor{db: db, log: discardLog()}
		created <- a
		return a
	})
	h.store = sys.Root.Spawn(props)
	h.actor = <-created
	t.Cleanup(func() {
		// Poison (a user message) lets every Write already sent be queued and
		// written; Stopping then closes the database.
		if err := sys.Root.PoisonFuture(h.store).Wait(); err != nil {
			t.Errorf("stopping the store: %v", err)
		}
	})
	return h
}

// write sends ops in order and waits for their WriteDone, checking they come
// back in the order sent with their tags.
func (h *harness) write(t *testing.T, ops ...Op) []*WriteDone {
	t.Helper()
	for i, op := range ops {
		h.sys.Root.Send(h.store, &Write{Op: op, ReplyTo: h.probe.pid, Tag: i})
	}
	out := make([]*WriteDone, len(ops))
	for i := range ops {
		wd := h.probe.writeDone(t)
		if wd.Tag != i {
			t.Fatalf("WriteDone %d carries tag %v: replies out of order", i, wd.Tag)
		}
		if wd.Op != ops[i] {
			t.Fatalf("WriteDone %d carries op %p, want the op sent (%p)", i, wd.Op, ops[i])
		}
		out[i] = wd
	}
	return out
}

func (h *harness) mustWrite(t *testing.T, ops ...Op) {
	t.Helper()
	for i, wd := range h.write(t, ops...) {
		if wd.Err != nil {
			t.Fatalf("write %d (%T): %v", i, ops[i], wd.Err)
		}
	}
}

// query sends a Query with the probe as sender and returns its result.
func (h *harness) query(t *testing.T, fn func(context.Context, *DB) (any, error)) *QueryResult {
	t.Helper()
	h.sys.Root.RequestWithCustomSender(h.store, &Query{Fn: fn}, h.probe.pid)
	m := h.probe.next(t)
	res, ok := m.(*QueryResult)
	if !ok {
		t.Fatalf("probe got %T, want *QueryResult", m)
	}
	return res
}

var t0 = time.Unix(1_760_000_000, 0)

func job(runKey, jobID string, status messages.JobState, created, finished int) JobRow {
	j := JobRow{RunKey: runKey, JobID: jobID, Status: status, Name: jobID,
		CreatedAt: t0.Add(time.Duration(created) * time.Second), ScoreSource: []byte("src")}
	if finished > 0 {
		j.FinishedAt = t0.Add(time.Duration(finished) * time.Second)
	}
	return j
}

func sheet(runKey string, num int, status messages.SheetState) SheetRow {
	return SheetRow{RunKey: runKey, Num: num, Stage: "s", Voice: 1, VoiceCount: 1, Instrument: "shell", Status: status}
}

func TestInsertRunNumbersRunsPerJob(t *testing.T) {
	h := newHarness(t)
	ops := []Op{
		&InsertRun{Job: job("a.1", "a", "completed", 1, 2)},
		&InsertRun{Job: job("b.1", "b", "completed", 1, 2)},
		&InsertRun{Job: job("a.2", "a", "completed", 3, 4)},
		&InsertRun{Job: job("a.3", "a", "running", 5, 0), Sheets: []SheetRow{sheet("a.3", 1, "pending")}},
	}
	h.mustWrite(t, ops...)
	want := []int{1, 1, 2, 3}
	for i, op := range ops {
		if got := op.(*InsertRun).Job.Run; got != want[i] {
			t.Errorf("InsertRun %d (%s) numbered run %d, want %d", i, op.(*InsertRun).Job.RunKey, got, want[i])
		}
	}
	run, ok, err := h.db.LatestRun(context.Background(), "a")
	if err != nil || !ok {
		t.Fatalf("LatestRun: ok=%v err=%v", ok, err)
	}
	if run.Job.RunKey != "a.3" || run.Job.Run != 3 || len(run.Sheets) != 1 {
		t.Errorf("LatestRun(a) = %s run %d with %d sheets; want a.3 run 3 with 1 sheet", run.Job.RunKey, run.Job.Run, len(run.Sheets))
	}
}

func TestWritesAppliedInOrder(t *testing.T) {
	h := newHarness(t)
	h.mustWrite(t, &InsertRun{Job: job("o.1", "o", "queued", 1, 0)})
	// Many updates of one row, sent without waiting: the last one sent wins.
	var ops []Op
	for i := range 300 {
		j := job("o.1", "o", "running", 1, 0)
		j.Run = 1
		j.Error = fmt.Sprintf("update %03d", i)
		ops = append(ops, &SaveJob{Job: j})
	}
	h.mustWrite(t, ops...)
	run, _, err := h.db.LatestRun(context.Background(), "o")
	if err != nil {
		t.Fatal(err)
	}
	if run.Job.Error != "update 299" {
		t.Errorf("after 300 ordered updates the row says %q, want %q", run.Job.Error, "update 299")
	}
}

// blockOp holds the writer inside a transaction until released.
type blockOp struct{ entered, release chan struct{} }

func (op *blockOp) apply(ctx context.Context, tx *sql.Tx) error {
	close(op.entered)
	<-op.release
	return nil
}

// panicOp panics inside apply.
type panicOp struct{}

func (panicOp) apply(context.Context, *sql.Tx) error { panic("boom") }

func TestFailingOpInBatchKeepsNeighbours(t *testing.T) {
	h := newHarness(t)
	h.mustWrite(t, &InsertRun{Job: job("n.1", "n", "running", 1, 0)})

	block := &blockOp{entered: make(chan struct{}), release: make(chan struct{})}
	h.sys.Root.Send(h.store, &Write{Op: block, ReplyTo: h.probe.pid, Tag: "block"})
	select {
	case <-block.entered:
	case <-time.After(waitFor):
		t.Fatal("writer never applied the blocking op")
	}

	// While the writer is busy, queue a batch with failures in the middle.
	ops := []Op{
		&SaveSheets{Sheets: []SheetRow{sheet("n.1", 1, "completed")}},
		&SaveSheets{Sheets: []SheetRow{sheet("no-such-run", 1, "completed")}}, // foreign key violation
		&SaveSheets{Sheets: []SheetRow{sheet("n.1", 2, "completed")}},
		panicOp{},
		&SaveSheets{Sheets: []SheetRow{sheet("n.1", 3, "completed")}},
	}
	for i, op := range ops {
		h.sys.Root.Send(h.store, &Write{Op: op, ReplyTo: h.probe.pid, Tag: i})
	}
	// Make sure they all share the next batch: wait until they sit in the queue.
	deadline := time.Now().Add(waitFor)
	for len(h.actor.queue) < len(ops) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes queued", len(h.actor.queue), len(ops))
		}
		time.Sleep(time.Millisecond)
	}
	close(block.release)

	if wd := h.probe.writeDone(t); wd.Tag != "block" || wd.Err != nil {
		t.Fatalf("blocking op: tag %v err %v", wd.Tag, wd.Err)
	}
	wantErr := []bool{false, true, false, true, false}
	for i := range ops {
		wd := h.probe.writeDone(t)
		if wd.Tag != i {
			t.Fatalf("WriteDone %d has tag %v", i, wd.Tag)
		}
		if (wd.Err != nil) != wantErr[i] {
			t.Errorf("write %d (%T): err = %v, want error: %v", i, ops[i], wd.Err, wantErr[i])
		}
	}
	run, _, err := h.db.LatestRun(context.Background(), "n")
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, s := range run.Sheets {
		nums = append(nums, s.Num)
	}
	if fmt.Sprint(nums) != "[1 2 3]" {
		t.Errorf("sheets stored: %v, want [1 2 3] (the good neighbours of the failed writes)", nums)
	}
}

func TestFinishedActiveAndPrune(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustWrite(t,
		// a: an old finished run and a newer running one.
		&InsertRun{Job: job("a.1", "a", "completed", 1, 2), Sheets: []SheetRow{sheet("a.1", 1, "completed")}},
		&InsertRun{Job: job("a.2", "a", "running", 10, 0), Sheets: []SheetRow{sheet("a.2", 2, "pending"), sheet("a.2", 1, "running")}},
		// b: failed, with mixed sheets.
		&InsertRun{Job: job("b.1", "b", "failed", 3, 5), Sheets: []SheetRow{
			sheet("b.1", 1, "completed"), sheet("b.1", 2, "completed"), sheet("b.1", 3, "failed")}},
		// c: cancelled, created last.
		&InsertRun{Job: job("c.1", "c", "cancelled", 7, 8), Sheets: []SheetRow{sheet("c.1", 1, "cancelled")}},
		// d: queued, created before a.2.
		&InsertRun{Job: job("d.1", "d", "queued", 6, 0)},
	)

	finished, counts, err := h.db.FinishedJobs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range finished {
		ids = append(ids, j.RunKey)
		if j.ScoreSource != nil {
			t.Errorf("FinishedJobs loaded the score source of %s", j.RunKey)
		}
	}
	if got := strings.Join(ids, " "); got != "c.1 b.1" {
		t.Errorf("FinishedJobs = %q, want the latest finished runs newest first: %q", got, "c.1 b.1")
	}
	if got := counts["b.1"]; got["completed"] != 2 || got["failed"] != 1 || len(got) != 2 {
		t.Errorf("sheet counts of b.1 = %v, want completed 2, failed 1", got)
	}
	finished, _, err = h.db.FinishedJobs(ctx, map[string]bool{"c": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(finished) != 1 || finished[0].JobID != "b" {
		t.Errorf("FinishedJobs excluding c = %+v, want only b", finished)
	}

	active, err := h.db.ActiveRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || active[0].Job.RunKey != "d.1" || active[1].Job.RunKey != "a.2" {
		t.Fatalf("ActiveRuns = %+v, want d.1 then a.2 (by creation)", active)
	}
	if s := active[1].Sheets; len(s) != 2 || s[0].Num != 1 || s[1].Num != 2 {
		t.Errorf("ActiveRuns sheets of a.2 = %+v, want 1 and 2 in order", s)
	}
	if _, ok, err := h.db.LatestRun(ctx, "missing"); ok || err != nil {
		t.Errorf("LatestRun(missing) = ok %v, err %v; want not found, no error", ok, err)
	}

	// Keep one finished run: c.1 finished last; a.1 and b.1 go with their
	// sheets, the running a.2 and queued d.1 stay whatever Keep says.
	h.mustWrite(t, &PruneHistory{Keep: 1})
	var keys []string
	rows, err := h.db.read.Query(`SELECT run_key FROM jobs ORDER BY run_key`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		keys = append(keys, k)
	}
	rows.Close()
	if got := strings.Join(keys, " "); got != "a.2 c.1 d.1" {
		t.Errorf("after PruneHistory{Keep:1} runs are %q, want %q", got, "a.2 c.1 d.1")
	}
	var orphans int
	if err := h.db.read.QueryRow(`SELECT count(*) FROM sheets WHERE run_key IN ('a.1','b.1')`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d sheets of pruned runs remain", orphans)
	}

	// MarkFailed fails an unfinished run and leaves a finished one alone.
	h.mustWrite(t, &MarkFailed{JobID: "a", Run: 2, Reason: "actor died"}, &MarkFailed{JobID: "c", Run: 1, Reason: "nope"})
	a, _, _ := h.db.LatestRun(ctx, "a")
	if a.Job.Status != "failed" || a.Job.Error != "actor died" || a.Job.FinishedAt.IsZero() {
		t.Errorf("after MarkFailed a.2 = %s %q finished %v", a.Job.Status, a.Job.Error, a.Job.FinishedAt)
	}
	c, _, _ := h.db.LatestRun(ctx, "c")
	if c.Job.Status != "cancelled" || c.Job.Error != "" {
		t.Errorf("MarkFailed changed the finished run c.1: %s %q", c.Job.Status, c.Job.Error)
	}
}

func TestQueryResults(t *testing.T) {
	h := newHarness(t)
	h.mustWrite(t, &InsertRun{Job: job("q.1", "q", "running", 1, 0)})

	res := h.query(t, func(ctx context.Context, db *DB) (any, error) { return db.ActiveRuns(ctx) })
	runs, ok := res.Value.([]Run)
	if res.Err != nil || !ok || len(runs) != 1 || runs[0].Job.RunKey != "q.1" {
		t.Errorf("query ActiveRuns = %#v, %v", res.Value, res.Err)
	}

	sentinel := errors.New("query failed")
	if res := h.query(t, func(context.Context, *DB) (any, error) { return nil, sentinel }); !errors.Is(res.Err, sentinel) {
		t.Errorf("query error = %v, want %v", res.Err, sentinel)
	}

	res = h.query(t, func(context.Context, *DB) (any, error) { panic("kaboom") })
	if res.Err == nil || !strings.Contains(res.Err.Error(), "kaboom") {
		t.Errorf("panicking query: err = %v, want it reported", res.Err)
	}

	// The store still works after a panicking query.
	res = h.query(t, func(ctx context.Context, db *DB) (any, error) { return db.Version() })
	if res.Err != nil || res.Value != SchemaVersion {
		t.Errorf("query after a panic = %v, %v", res.Value, res.Err)
	}
}

func TestPoisonWritesEverythingSentBefore(t *testing.T) {
	sys := newSystem(t)
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path, discardLog())
	pid := sys.Root.Spawn(Props(db, discardLog()))
	sys.Root.Send(pid, &Write{Op: &InsertRun{Job: job("p.1", "p", "running", 1, 0)}})
	for i := range 500 {
		sys.Root.Send(pid, &Write{Op: &SaveSheets{Sheets: []SheetRow{sheet("p.1", i+1, "pending")}}})
	}
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	// The store closed the database on Stopping; reopen and count.
	db = openDB(t, path, discardLog())
	defer db.Close()
	run, ok, err := db.LatestRun(context.Background(), "p")
	if err != nil || !ok {
		t.Fatalf("LatestRun: ok=%v err=%v", ok, err)
	}
	if len(run.Sheets) != 500 {
		t.Errorf("%d of 500 sheets written before the store stopped", len(run.Sheets))
	}
}
