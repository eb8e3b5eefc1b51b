package jobs

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

func TestTryInfosListsRecordedTriesAndTheRunningOne(t *testing.T) {
	t0 := time.Unix(1_760_000_000, 0)
	one := 1
	rows := []store.AttemptRow{
		{Num: 2, Try: 1, Counted: false, Outcome: messages.OutcomeRateLimited, StartedAt: t0, FinishedAt: t0.Add(time.Second), ExitCode: &one, Error: "rate limited"},
		{Num: 2, Try: 2, Counted: true, Outcome: messages.OutcomeFailed, StartedAt: t0.Add(time.Minute), FinishedAt: t0.Add(2 * time.Minute),
			Validations: []store.Validation{{Type: "file_exists", Passed: false, Detail: "out.txt missing"}}},
	}
	running := store.SheetRow{Num: 2, Status: messages.SheetRunning, Tries: 3, StartedAt: t0.Add(3 * time.Minute)}
	got := tryInfos("/logs/run", running, rows)
	if len(got) != 3 {
		t.Fatalf("%d tries, want 3 (two recorded, one running)", len(got))
	}
	if got[0].GetOutcome() != "rate_limited" || got[0].GetCounted() || !got[0].GetHasExitCode() || got[0].GetExitCode() != 1 {
		t.Errorf("try 1: %+v", got[0])
	}
	if v := got[1].GetValidations(); len(v) != 1 || v[0].GetPassed() || got[1].GetPromptPath() != "/logs/run/sheet-2.try-2.prompt" {
		t.Errorf("try 2: %+v", got[1])
	}
	if !got[2].GetRunning() || got[2].GetTry() != 3 || got[2].GetStdoutPath() != "/logs/run/sheet-2.try-3.stdout" {
		t.Errorf("running try: %+v", got[2])
	}
	// A finished sheet has no running try.
	done := running
	done.Status, done.Tries = messages.SheetFailed, 2
	if n := len(tryInfos("/logs/run", done, rows)); n != 2 {
		t.Errorf("finished sheet: %d tries, want 2", n)
	}
}
