package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// telT0 is minute-aligned, so samples can be placed in known minutes.
var telT0 = time.Unix(29_333_333*60, 0)

func telEvent(seq int64, job string) *messages.Event {
	return &messages.Event{Seq: seq, TimeUnixNano: telT0.Add(time.Duration(seq) * time.Second).UnixNano(),
		Kind: "sheet.status", JobId: job, Sheet: seq % 3, Attempt: seq % 2, Stage: "stage-" + job,
		Status: fmt.Sprint("status-", seq), Detail: fmt.Sprint("detail ", seq)}
}

func eventSeqs(events []*messages.Event) []int64 {
	out := []int64{}
	for _, e := range events {
		out = append(out, e.GetSeq())
	}
	return out
}

func mustEvents(t *testing.T, db *DB, job string, before int64, limit int) []int64 {
	t.Helper()
	events, err := db.Events(context.Background(), job, before, limit)
	if err != nil {
		t.Fatalf("Events(%q, %d, %d): %v", job, before, limit, err)
	}
	return eventSeqs(events)
}

func TestEventsInsertAndPage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if last, err := h.db.LastEventSeq(ctx); err != nil || last != 0 {
		t.Errorf("LastEventSeq of an empty table = %d, %v; want 0", last, err)
	}
	var all []*messages.Event
	for seq := int64(1); seq <= 10; seq++ {
		job := "a"
		if seq%2 == 0 {
			job = "b"
		}
		all = append(all, telEvent(seq, job))
	}
	h.mustWrite(t, &InsertEvents{Events: all[:6]}, &InsertEvents{Events: all[6:]})

	got, err := h.db.Events(ctx, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("Events read %d events, want %d", len(got), len(all))
	}
	for i := range all {
		if !proto.Equal(got[i], all[i]) {
			t.Errorf("event %d read back as %v, want %v", i, got[i], all[i])
		}
	}
	if last, err := h.db.LastEventSeq(ctx); err != nil || last != 10 {
		t.Errorf("LastEventSeq = %d, %v; want 10", last, err)
	}

	cases := []struct {
		job    string
		before int64
		limit  int
		want   []int64
	}{
		{"a", 0, 100, []int64{1, 3, 5, 7, 9}},
		{"b", 0, 100, []int64{2, 4, 6, 8, 10}},
		{"", 0, 3, []int64{8, 9, 10}}, // the newest, oldest first
		{"", 8, 3, []int64{5, 6, 7}},  // the page before seq 8
		{"", 5, 100, []int64{1, 2, 3, 4}},
		{"a", 7, 2, []int64{3, 5}},
		{"b", 3, 100, []int64{2}},
		{"", 1, 10, []int64{}},
		{"nobody", 0, 10, []int64{}},
	}
	for _, c := range cases {
		if got := mustEvents(t, h.db, c.job, c.before, c.limit); !slices.Equal(got, c.want) {
			t.Errorf("Events(%q, before %d, limit %d) = %v, want %v", c.job, c.before, c.limit, got, c.want)
		}
	}

	// Paging back from the newest reaches every event of a job once.
	var paged []int64
	before := int64(0)
	for {
		page := mustEvents(t, h.db, "a", before, 2)
		if len(page) == 0 {
			break
		}
		paged = append(page, paged...)
		before = page[0]
		if len(paged) > 10 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(paged, []int64{1, 3, 5, 7, 9}) {
		t.Errorf("paged through job a: %v, want [1 3 5 7 9]", paged)
	}

	// A batch handed over twice is stored once and does not overwrite.
	dup := telEvent(5, "a")
	dup.Detail = "changed"
	h.mustWrite(t, &InsertEvents{Events: []*messages.Event{dup}})
	if ev, _ := h.db.Events(ctx, "", 6, 1); len(ev) != 1 || ev[0].GetDetail() != "detail 5" {
		t.Errorf("re-inserting seq 5 changed it to %v", ev)
	}
}

func TestInsertEventsKeepPrunesOldest(t *testing.T) {
	h := newHarness(t)
	var batch []*messages.Event
	for seq := int64(1); seq <= 10; seq++ {
		batch = append(batch, telEvent(seq, "k"))
	}
	h.mustWrite(t, &InsertEvents{Events: batch}) // Keep 0: everything stays
	if got := mustEvents(t, h.db, "", 0, 100); len(got) != 10 {
		t.Fatalf("Keep 0 kept %v, want all 10", got)
	}
	batch = nil
	for seq := int64(11); seq <= 14; seq++ {
		batch = append(batch, telEvent(seq, "k"))
	}
	h.mustWrite(t, &InsertEvents{Events: batch, Keep: 5})
	if got := mustEvents(t, h.db, "", 0, 100); !slices.Equal(got, []int64{10, 11, 12, 13, 14}) {
		t.Errorf("after Keep 5: %v, want the newest five [10..14]", got)
	}
	h.mustWrite(t, &InsertEvents{Keep: 1}) // an empty batch prunes nothing
	if got := mustEvents(t, h.db, "", 0, 100); len(got) != 5 {
		t.Errorf("an empty batch with Keep 1 left %v, want the five untouched", got)
	}
}

func TestCompactSamples(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.mustWrite(t, &InsertRun{Job: job("c.1", "c", "running", 1, 0)})

	at := func(m int, sec int) time.Time {
		return telT0.Add(time.Duration(m)*time.Minute + time.Duration(sec)*time.Second)
	}
	raw := func(num int, at time.Time, cpu, rss float64, threads int) Sample {
		return Sample{RunKey: "c.1", Num: num, Try: 1, Time: at, CPUPercent: cpu, RSSMB: rss, Threads: threads,
			Processes: threads, OpenFiles: threads * 2, ReadBytes: int64(threads * 100), WriteBytes: int64(threads * 10)}
	}
	// Minute 0 is older than DropBefore; minutes 10 and 11 are to be
	// downsampled; minute 20 is recent. The cut is at 15:00, the drop at 5:00.
	samples := []Sample{
		raw(1, at(0, 10), 99, 999, 9),
		raw(1, at(10, 0), 10, 100, 1),
		raw(1, at(10, 20), 20, 300, 5),
		raw(1, at(10, 40), 60, 200, 3),
		raw(1, at(11, 30), 50, 10, 2),
		raw(1, at(11, 59), 70, 20, 1),
		raw(1, at(20, 0), 1, 1, 1),
		raw(1, at(20, 5), 2, 2, 1),
		raw(2, at(10, 30), 40, 40, 4), // another sheet, same minute: its own row
	}
	old := raw(1, at(1, 0), 5, 5, 1)
	old.ResolutionSec = 60 // an aggregate from an earlier compaction, older than DropBefore
	samples = append(samples, old)
	h.mustWrite(t, &InsertSamples{Samples: samples})

	// A sample of a run that is gone is dropped, not an error.
	if wd := h.write(t, &InsertSamples{Samples: []Sample{{RunKey: "gone.1", Num: 1, Try: 1, Time: at(12, 0)}}}); wd[0].Err != nil {
		t.Errorf("a sample of a pruned run failed the write: %v", wd[0].Err)
	}

	op := &CompactSamples{DownsampleBefore: at(15, 0), DropBefore: at(5, 0)}
	h.mustWrite(t, op)
	// Times as Unix nanoseconds, so rows compare with ==.
	type row struct {
		at                    int64
		res                   int
		cpu, rss              float64
		threads, procs, files int
		read, written         int64
	}
	read := func(num int) []row {
		t.Helper()
		s, err := h.db.SamplesOf(ctx, "c.1", num, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := []row{}
		for _, x := range s {
			out = append(out, row{x.Time.UnixNano(), x.ResolutionSec, x.CPUPercent, x.RSSMB, x.Threads, x.Processes,
				x.OpenFiles, x.ReadBytes, x.WriteBytes})
		}
		return out
	}
	ns := func(m, sec int) int64 { return at(m, sec).UnixNano() }
	want1 := []row{
		{ns(10, 0), 60, 30, 300, 5, 5, 10, 500, 50}, // mean CPU, peak of the rest, at the minute's start
		{ns(11, 0), 60, 60, 20, 2, 2, 4, 200, 20},
		{ns(20, 0), 0, 1, 1, 1, 1, 2, 100, 10}, // recent: still raw
		{ns(20, 5), 0, 2, 2, 1, 1, 2, 100, 10},
	}
	want2 := []row{{ns(10, 0), 60, 40, 40, 4, 4, 8, 400, 40}}
	check := func(when string) {
		t.Helper()
		if got := read(1); !slices.Equal(got, want1) {
			t.Errorf("%s, sheet 1 samples:\n%+v\nwant\n%+v", when, got, want1)
		}
		if got := read(2); !slices.Equal(got, want2) {
			t.Errorf("%s, sheet 2 samples: %+v, want %+v", when, got, want2)
		}
	}
	check("after compaction")
	h.mustWrite(t, op)
	check("after compacting again with the same cut")

	// Later, with the cut past minute 20 and the drop past minute 11.
	h.mustWrite(t, &CompactSamples{DownsampleBefore: at(30, 0), DropBefore: at(12, 0)})
	if got, want := read(1), []row{{ns(20, 0), 60, 1.5, 2, 1, 1, 2, 100, 10}}; !slices.Equal(got, want) {
		t.Errorf("after the second compaction, sheet 1: %+v, want %+v", got, want)
	}
	if got := read(2); len(got) != 0 {
		t.Errorf("after the second compaction, sheet 2: %+v, want none (older than DropBefore)", got)
	}
}

// telTry is one finished try to store for FinishedTries.
type telTry struct {
	runKey       string
	num, try     int
	outcome, err string
	start, end   int // seconds after telT0
	profile      Profile
}

func TestFinishedTries(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	mkJob := func(runKey, id, name string) JobRow {
		return JobRow{RunKey: runKey, JobID: id, Name: name, Status: "completed", CreatedAt: telT0}
	}
	mkSheet := func(runKey string, num int, stage, instrument string) SheetRow {
		return SheetRow{RunKey: runKey, Num: num, Stage: stage, Voice: 1, VoiceCount: 1, Instrument: instrument, Status: "completed"}
	}
	h.mustWrite(t,
		&InsertRun{Job: mkJob("alpha.1", "alpha", "Alpha Score"), Sheets: []SheetRow{
			mkSheet("alpha.1", 1, "build", "shell"), mkSheet("alpha.1", 2, "test", "claude-code")}},
		&InsertRun{Job: mkJob("alpha.2", "alpha", "Alpha Score"), Sheets: []SheetRow{mkSheet("alpha.2", 1, "build", "shell")}},
		&InsertRun{Job: mkJob("beta.1", "beta", "Beta Score"), Sheets: []SheetRow{mkSheet("beta.1", 1, "deploy", "shell")}},
	)
	tries := []telTry{
		{"alpha.1", 1, 1, "failed", "exit code 3: boom", 0, 10, Profile{PeakRSSMB: 100, CPUSeconds: 2, MeanCPUPercent: 20}},
		{"alpha.1", 1, 2, "completed", "", 20, 30, Profile{PeakRSSMB: 50, CPUSeconds: 1, MeanCPUPercent: 10}},
		{"alpha.1", 2, 1, "timed_out", "timed out after 25s", 25, 50, Profile{}},
		{"alpha.2", 1, 1, "stalled", "stalled: no progress", 60, 70, Profile{PeakRSSMB: 7, Stalled: true}},
		{"beta.1", 1, 1, "completed", "", 35, 40, Profile{CPUSeconds: 4.5}},
		// Tries that did not end by themselves are not history.
		{"alpha.2", 1, 2, "cancelled", "cancelled", 71, 80, Profile{}},
		{"alpha.2", 1, 3, "rate_limited", "rate limited", 81, 90, Profile{}},
		{"beta.1", 1, 2, "interrupted", "conductor restarted", 91, 95, Profile{}},
	}
	for _, tr := range tries {
		h.mustWrite(t, &SaveSheets{Attempt: &AttemptRow{RunKey: tr.runKey, Num: tr.num, Try: tr.try, Counted: true,
			Outcome: messages.AttemptOutcome(tr.outcome), Error: tr.err, StartedAt: telT0.Add(time.Duration(tr.start) * time.Second),
			FinishedAt: telT0.Add(time.Duration(tr.end) * time.Second), Profile: tr.profile}})
	}

	describe := func(ft []FinishedTry) []string {
		out := []string{}
		for _, f := range ft {
			out = append(out, fmt.Sprintf("%s/%s/%s/%s %s %v %q %+v @%d", f.JobID, f.JobName, f.Stage, f.Instrument,
				f.Outcome, f.Duration, f.Error, f.Profile, f.FinishedAt.Sub(telT0)/time.Second))
		}
		return out
	}
	all := []string{
		`alpha/Alpha Score/build/shell stalled 10s "stalled: no progress" {PeakRSSMB:7 CPUSeconds:0 MeanCPUPercent:0 Stalled:true} @70`,
		`alpha/Alpha Score/test/claude-code timed_out 25s "timed out after 25s" {PeakRSSMB:0 CPUSeconds:0 MeanCPUPercent:0 Stalled:false} @50`,
		`beta/Beta Score/deploy/shell completed 5s "" {PeakRSSMB:0 CPUSeconds:4.5 MeanCPUPercent:0 Stalled:false} @40`,
		`alpha/Alpha Score/build/shell completed 10s "" {PeakRSSMB:50 CPUSeconds:1 MeanCPUPercent:10 Stalled:false} @30`,
		`alpha/Alpha Score/build/shell failed 10s "exit code 3: boom" {PeakRSSMB:100 CPUSeconds:2 MeanCPUPercent:20 Stalled:false} @10`,
	}
	cases := []struct {
		score string
		limit int
		want  []string
	}{
		{"", 100, all},
		{"", 2, all[:2]},
		{"alpha", 100, []string{all[0], all[1], all[3], all[4]}}, // by job id, every run
		{"Alpha Score", 100, []string{all[0], all[1], all[3], all[4]}},
		{"beta", 100, all[2:3]},
		{"Beta Score", 100, all[2:3]},
		{"nobody", 100, []string{}},
	}
	for _, c := range cases {
		got, err := h.db.FinishedTries(ctx, c.score, c.limit)
		if err != nil {
			t.Fatalf("FinishedTries(%q, %d): %v", c.score, c.limit, err)
		}
		if d := describe(got); !slices.Equal(d, c.want) {
			t.Errorf("FinishedTries(%q, %d) =\n  %s\nwant\n  %s", c.score, c.limit, strings.Join(d, "\n  "), strings.Join(c.want, "\n  "))
		}
	}
}

// Migration 2 added the events and samples tables and the profile columns
// of attempts and sheets: the frozen v1 database gains them on open, keeps
// its rows (with zero profiles), and takes telemetry afterwards.
func TestMigration2UpgradesFrozenV1(t *testing.T) {
	frozen := filepath.Join(frozenDir, "v1.db")
	raw, err := os.ReadFile(frozen)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.BigEndian.Uint32(raw[60:64]); v != 1 {
		t.Fatalf("%s has user_version %d, want 1: the fixture is not a v1 database", frozen, v)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	copyFile(t, frozen, path)
	rec := &recordingHandler{}
	db := openDB(t, path, slog.New(rec))
	defer db.Close()
	if got := rec.count("state.db migrated"); got != SchemaVersion-1 {
		t.Errorf("opening v1 ran %d migrations, want %d", got, SchemaVersion-1)
	}
	if v, err := db.Version(); err != nil || v != SchemaVersion {
		t.Fatalf("version after migration %d, %v; want %d", v, err, SchemaVersion)
	}

	for _, obj := range []struct{ typ, name string }{
		{"table", "events"}, {"table", "samples"},
		{"index", "events_by_job"}, {"index", "samples_by_try"}, {"index", "samples_by_time"},
	} {
		var n int
		if err := db.read.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = ? AND name = ?`, obj.typ, obj.name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s %s missing after migrating v1", obj.typ, obj.name)
		}
	}
	columns := func(table string) map[string]bool {
		rows, err := db.read.Query(`SELECT name FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			out[name] = true
		}
		return out
	}
	profileCols := []string{"peak_rss_mb", "cpu_seconds", "mean_cpu_percent", "stalled"}
	for table, want := range map[string][]string{"attempts": profileCols, "sheets": append(slices.Clone(profileCols), "notes")} {
		have := columns(table)
		for _, c := range want {
			if !have[c] {
				t.Errorf("column %s.%s missing after migrating v1", table, c)
			}
		}
	}

	// The v1 attempt is history now, with a zero profile.
	ctx := context.Background()
	for _, score := range []string{"", "frozen-job", "frozen score"} {
		tries, err := db.FinishedTries(ctx, score, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := FinishedTry{JobID: "frozen-job", JobName: "frozen score", Stage: "build", Instrument: "shell",
			Outcome: "completed", Duration: time.Second, FinishedAt: time.Unix(1_750_000_003, 0),
			ScoreKey: "frozen-job", RunKey: "frozen-job.1", Num: 1} // no identity before it existed: the job id
		if len(tries) != 1 || tries[0] != want {
			t.Errorf("FinishedTries(%q) on migrated v1 = %+v, want [%+v]", score, tries, want)
		}
	}
	run, ok, err := db.LatestRun(ctx, "frozen-job")
	if err != nil || !ok {
		t.Fatalf("LatestRun: ok=%v err=%v", ok, err)
	}
	for _, s := range run.Sheets {
		if s.Profile != (Profile{}) || len(s.Notes) != 0 {
			t.Errorf("v1 sheet %d reads profile %+v notes %q, want zero and none", s.Num, s.Profile, s.Notes)
		}
	}

	// The new tables take writes.
	if last, err := db.LastEventSeq(ctx); err != nil || last != 0 {
		t.Errorf("LastEventSeq on migrated v1 = %d, %v; want 0", last, err)
	}
	at := time.Unix(1_750_000_100, 0)
	applyOps(t, db, &InsertEvents{Events: []*messages.Event{telEvent(1, "frozen-job")}},
		&InsertSamples{Samples: []Sample{{RunKey: "frozen-job.1", Num: 2, Try: 1, Time: at, CPUPercent: 12, RSSMB: 34}}})
	if got := mustEvents(t, db, "frozen-job", 0, 10); !slices.Equal(got, []int64{1}) {
		t.Errorf("events after insert on migrated v1: %v, want [1]", got)
	}
	samples, err := db.SamplesOf(ctx, "frozen-job.1", 2, 1)
	if err != nil || len(samples) != 1 || !samples[0].Time.Equal(at) || samples[0].CPUPercent != 12 || samples[0].RSSMB != 34 {
		t.Errorf("samples after insert on migrated v1: %+v, %v", samples, err)
	}
}
