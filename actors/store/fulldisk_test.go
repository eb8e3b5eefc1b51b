package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/messages"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// mountTmpfs mounts a tmpfs of the given size (mount(8) syntax, e.g. "2m")
// on a fresh directory and unmounts it when the test ends. It skips the test
// when that is not possible: the store has no seam to inject a failing
// writer, so a real full file system is the only way to exercise it.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (the store has no seam to inject a failing writer)")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (the store has no seam to inject a failing writer): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system refuses another byte
// and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatalf("create filler: %v", err)
	}
	defer f.Close()
	for _, chunk := range []int{1 << 20, 64 << 10, 4 << 10, 512, 1} {
		buf := bytes.Repeat([]byte{'x'}, chunk)
		for {
			_, err := f.Write(buf)
			if err == nil {
				continue
			}
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v, want ENOSPC", err)
			}
			break
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bavail != 0 {
		t.Fatalf("after filling, %d blocks are still free", st.Bavail)
	}
	return path
}

// newHarnessAt is newHarness on a database at path; stop stops the store
// (which closes the database) once, whether the test or its cleanup calls it.
func newHarnessAt(t *testing.T, path string) (h *harness, stop func()) {
	t.Helper()
	sys := newSystem(t)
	db := openDB(t, path, discardLog())
	h = &harness{sys: sys, db: db, probe: newProbe(t, sys)}
	created := make(chan *Actor, 1)
	h.store = sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		a := &Actor{db: db, log: discardLog()}
		created <- a
		return a
	}))
	h.actor = <-created
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := sys.Root.PoisonFuture(h.store).Wait(); err != nil {
				t.Errorf("stopping the store: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return h, stop
}

// bigRun is a run large enough that storing it must grow the WAL (it cannot
// fit in frames the WAL already has).
func bigRun(runKey, jobID string, sheets int) *InsertRun {
	j := job(runKey, jobID, "queued", 20, 0)
	j.ScoreSource = bytes.Repeat([]byte("# score line\n"), 20_000) // ~260 KB
	op := &InsertRun{Job: j}
	for i := range sheets {
		s := sheet(runKey, i+1, "pending")
		s.OutputTail = strings.Repeat("o", 2000)
		op.Sheets = append(op.Sheets, s)
	}
	return op
}

func latest(t *testing.T, h *harness, jobID string) (Run, bool) {
	t.Helper()
	type res struct {
		run Run
		ok  bool
	}
	qr := h.query(t, func(ctx context.Context, db *DB) (any, error) {
		run, ok, err := db.LatestRun(ctx, jobID)
		return res{run, ok}, err
	})
	if qr.Err != nil {
		t.Fatalf("LatestRun(%s) through the store: %v", jobID, qr.Err)
	}
	r := qr.Value.(res)
	return r.run, r.ok
}

func activeRuns(t *testing.T, h *harness) []Run {
	t.Helper()
	qr := h.query(t, func(ctx context.Context, db *DB) (any, error) { return db.ActiveRuns(ctx) })
	if qr.Err != nil {
		t.Fatalf("ActiveRuns through the store: %v", qr.Err)
	}
	return qr.Value.([]Run)
}

func integrityCheck(ctx context.Context, db *DB) (any, error) {
	rows, err := db.read.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

func checkIntegrity(t *testing.T, h *harness, when string) {
	t.Helper()
	qr := h.query(t, integrityCheck)
	if qr.Err != nil || qr.Value != "ok" {
		t.Fatalf("%s: PRAGMA integrity_check = %q, %v; want ok", when, qr.Value, qr.Err)
	}
}

// isDiskFull reports whether err is SQLite's "database or disk is full"
// (SQLITE_FULL), which is what modernc.org/sqlite returns when a write hits
// ENOSPC: a *sqlite.Error with code 13 and the message
// "database or disk is full (13)".
func isDiskFull(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL &&
		strings.Contains(err.Error(), "database or disk is full")
}

// TestFullDisk: on a full file system a write fails with SQLITE_FULL (the
// error the jobs actor turns into ERROR_CODE_STORAGE for the client), the
// store keeps answering reads with everything stored before intact, the
// database stays consistent, and writes succeed again once space returns.
func TestFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	path := filepath.Join(dir, "state.db")
	h, stop := newHarnessAt(t, path)

	// What is stored before the disk fills.
	first := &InsertRun{Job: job("a.1", "a", "running", 1, 0), Sheets: []SheetRow{
		sheet("a.1", 1, "completed"), sheet("a.1", 2, "running"), sheet("a.1", 3, "pending")}}
	code := 0
	first.Sheets[0].ExitCode = &code
	first.Sheets[0].Validations = []Validation{{Type: "file_exists", Passed: true, Detail: "out.txt"}}
	h.mustWrite(t, first,
		&InsertRun{Job: job("f.1", "f", "completed", 2, 3), Sheets: []SheetRow{sheet("f.1", 1, "completed")}})
	before, ok := latest(t, h, "a")
	if !ok || before.Job.RunKey != "a.1" || len(before.Sheets) != 3 {
		t.Fatalf("before filling the disk LatestRun(a) = %+v, %v", before, ok)
	}
	beforeFinished, ok := latest(t, h, "f")
	if !ok {
		t.Fatal("before filling the disk LatestRun(f) found nothing")
	}

	filler := fillDisk(t, dir)

	// A new run cannot be stored: the client must hear why.
	wd := h.write(t, bigRun("b.1", "b", 64))[0]
	if wd.Err == nil {
		t.Fatal("storing a 300 KB run on a full disk succeeded")
	}
	if !isDiskFull(wd.Err) {
		t.Fatalf("write on a full disk failed with %q (%T), want SQLITE_FULL \"database or disk is full (13)\"", wd.Err, errors.Unwrap(wd.Err))
	}
	t.Logf("write on a full disk: %v", wd.Err)
	// Small updates of existing rows keep failing the same way rather than
	// corrupting anything; whether one fits depends on free WAL frames, so
	// only its error kind is checked.
	// An update of an existing run that cannot be written waits in the
	// store's backlog (answered only once durable) instead of being lost.
	// It is made too large for the WAL space a background checkpoint may
	// have freed (a small one can fit there, and succeed).
	upd := before.Job
	upd.Status, upd.Error = "running", "updated while full: "+strings.Repeat("e", 300<<10)
	h.sys.Root.Send(h.store, &Write{Op: &SaveJob{Job: upd}, ReplyTo: h.probe.pid, Tag: "held"})

	// Reads keep working and the earlier data is intact.
	got, ok := latest(t, h, "a")
	if !ok {
		t.Fatal("LatestRun(a) lost the run stored before the disk filled")
	}
	got.Job.Error, got.Job.Status = before.Job.Error, before.Job.Status // the small update may have landed
	if !reflect.DeepEqual(got, before) {
		t.Errorf("run a.1 changed while the disk was full:\n got %+v\nwant %+v", got, before)
	}
	if got, ok := latest(t, h, "f"); !ok || !reflect.DeepEqual(got, beforeFinished) {
		t.Errorf("finished run f.1 changed while the disk was full: %+v (found %v)", got, ok)
	}
	if _, ok := latest(t, h, "b"); ok {
		t.Error("the run whose write failed is (partly) stored")
	}
	active := activeRuns(t, h)
	if len(active) != 1 || active[0].Job.RunKey != "a.1" || len(active[0].Sheets) != 3 {
		t.Errorf("ActiveRuns on a full disk = %+v, want only a.1 with its 3 sheets", active)
	}
	checkIntegrity(t, h, "on a full disk")

	// Space returns: writing resumes without a restart, the held update first.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if wd := h.probe.next(t).(*WriteDone); wd.Tag != "held" || wd.Err != nil {
		t.Fatalf("the update held while the disk was full: %+v", wd)
	}
	h.mustWrite(t, bigRun("b.1", "b", 64))
	done := before.Job
	done.Status, done.FinishedAt = "completed", t0.Add(50e9)
	h.mustWrite(t, &SaveJob{Job: done})
	b, ok := latest(t, h, "b")
	if !ok || b.Job.Run != 1 || len(b.Sheets) != 64 || len(b.Job.ScoreSource) != 20_000*13 {
		t.Fatalf("after space returned LatestRun(b) = run %d, %d sheets, %d source bytes (found %v); want run 1, 64, %d",
			b.Job.Run, len(b.Sheets), len(b.Job.ScoreSource), ok, 20_000*13)
	}
	if a, _ := latest(t, h, "a"); a.Job.Status != "completed" {
		t.Errorf("after space returned a.1 is %s, want completed", a.Job.Status)
	}
	checkIntegrity(t, h, "after space returned")

	// Close (the store closes the database when it stops) and reopen.
	stop()
	h2, _ := newHarnessAt(t, path)
	checkIntegrity(t, h2, "after reopening")
	a, _ := latest(t, h2, "a")
	if a.Job.Status != "completed" || !reflect.DeepEqual(a.Sheets, before.Sheets) {
		t.Errorf("after reopening a.1 = %s with sheets %+v; want completed with the sheets stored first", a.Job.Status, a.Sheets)
	}
	if b, ok := latest(t, h2, "b"); !ok || len(b.Sheets) != 64 {
		t.Errorf("after reopening b.1 has %d sheets (found %v), want 64", len(b.Sheets), ok)
	}
	if f, ok := latest(t, h2, "f"); !ok || !reflect.DeepEqual(f, beforeFinished) {
		t.Errorf("after reopening f.1 = %+v (found %v), want it unchanged", f, ok)
	}
	h2.mustWrite(t, &InsertRun{Job: job("c.1", "c", "queued", 60, 0)})
	if c, ok := latest(t, h2, "c"); !ok || c.Job.Run != 1 {
		t.Errorf("after reopening a new run is not stored: %+v (found %v)", c, ok)
	}
}

// On a full disk, telemetry (events, samples) that cannot be written is
// dropped at once: it never starts a backlog that job writes would wait
// behind, and never grows in memory while the disk stays full.
func TestFullDiskDropsTelemetry(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	h, stop := newHarnessAt(t, filepath.Join(dir, "state.db"))
	defer stop()
	h.mustWrite(t, &InsertRun{Job: job("a.1", "a", "running", 1, 0), Sheets: []SheetRow{sheet("a.1", 1, "running")}})
	filler := fillDisk(t, dir)

	big := make([]*messages.Event, 2000)
	for i := range big {
		big[i] = &messages.Event{Seq: int64(i + 1), Kind: "sheet.status", JobId: "a", Detail: strings.Repeat("x", 500)}
	}
	// More samples than the whole 2 MB disk holds: the WAL space a
	// background checkpoint frees for reuse must not be enough to take them.
	samples := make([]Sample, 40000)
	for i := range samples {
		samples[i] = Sample{RunKey: "a.1", Num: 1, Try: 1, Time: time.Unix(int64(i), 0)}
	}
	for _, wd := range h.write(t, &InsertEvents{Events: big}, &InsertSamples{Samples: samples}) {
		if wd.Err == nil {
			t.Fatalf("%T of 1 MB or more succeeded on a full disk", wd.Op)
		}
	}
	// A job write now fails (or lands) on its own account, not behind
	// telemetry: nothing is waiting.
	wd := h.write(t, bigRun("b.1", "b", 64))[0]
	if wd.Err == nil {
		t.Fatal("storing a 300 KB run on a full disk succeeded")
	}
	if strings.Contains(wd.Err.Error(), "waiting") {
		t.Errorf("a job write was held behind telemetry: %v", wd.Err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Space is back: the next job write goes through at once.
	h.mustWrite(t, &SaveJob{Job: job("a.1", "a", "completed", 1, 2)})
	res := h.query(t, func(ctx context.Context, db *DB) (any, error) { return db.Events(ctx, "", 0, 10) })
	if res.Err != nil || len(res.Value.([]*messages.Event)) != 0 {
		t.Errorf("dropped events were written later: %v, %v", res.Value, res.Err)
	}
}
