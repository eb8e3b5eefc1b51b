package store

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// StatusRun reads every field status shows exactly as LatestRun does.
func TestStatusRunMatchesLatestRun(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "state.db"), discardLog())
	defer db.Close()
	job, sheets, _ := frozenRun()
	code := 3
	sheets = append(sheets, SheetRow{RunKey: job.RunKey, Num: 3, Stage: "s", Voice: 2, VoiceCount: 2, Instrument: "x",
		Status: messages.SheetFailed, Attempts: 2, Tries: 5, StartedAt: time.Unix(9, 5), FinishedAt: time.Unix(10, 0),
		ExitCode: &code, Error: "boom", WaitingUntil: time.Unix(11, 0), PID: 42, PGID: 42, ProcStart: 7,
		Validations: []Validation{{Type: "command", Detail: "x"}}, OutputTail: "tail", Notes: []string{"stalled 5m"},
		Profile: Profile{PeakRSSMB: 1.5, CPUSeconds: 2, MeanCPUPercent: 3, Stalled: true}, SessionID: "sess"})
	applyOps(t, db, &InsertRun{Job: job, Sheets: sheets})
	ctx := context.Background()
	want, ok, err := db.LatestRun(ctx, job.JobID)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	got, ok, err := db.StatusRun(ctx, job.JobID)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	// Status never shows the score; no validations read as nil or empty alike.
	want.Job.ScoreSource, got.Job.ScoreSource = nil, nil
	for i := range want.Sheets {
		if len(want.Sheets[i].Validations) == 0 && len(got.Sheets[i].Validations) == 0 {
			want.Sheets[i].Validations, got.Sheets[i].Validations = nil, nil
		}
		// What status does not read.
		want.Sheets[i].OutputTail, want.Sheets[i].PGID, want.Sheets[i].ProcStart = "", 0, 0
		want.Sheets[i].Tries, want.Sheets[i].RateLimitWaited = 0, 0
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("StatusRun:\n%+v\nLatestRun:\n%+v", got, want)
	}
	if _, ok, err := db.StatusRun(ctx, "nope"); ok || err != nil {
		t.Fatalf("StatusRun of an unknown job: ok=%v err=%v", ok, err)
	}
}

// BenchmarkStatusRun reads a finished run of 10,000 sheets as status does
// (from the database, and again unchanged), and as LatestRun did.
func BenchmarkStatusRun(b *testing.B) {
	db := seedFinished(b, 1, 10000)
	ctx := context.Background()
	for name, read := range map[string]func(context.Context, string) (Run, bool, error){
		"status": db.statusRun, "status-again": db.StatusRun, "latest": db.LatestRun} {
		b.Run(name, func(b *testing.B) {
			read(ctx, "hist-00000") // status-again: the first read fills the cache
			defer reportCPU(b)()
			for b.Loop() {
				run, ok, err := read(ctx, "hist-00000")
				if err != nil || !ok || len(run.Sheets) != 10000 {
					b.Fatal(ok, err, fmt.Sprint(len(run.Sheets)))
				}
			}
		})
	}
}
