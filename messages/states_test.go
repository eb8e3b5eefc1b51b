package messages

import "testing"

func TestJobStates(t *testing.T) {
	for _, c := range []struct {
		s               JobState
		valid, terminal bool
	}{
		{"queued", true, false}, {"running", true, false}, {"paused", true, false},
		{"completed", true, true}, {"failed", true, true}, {"cancelled", true, true},
		{"pending", false, false}, {"Completed", false, false}, {"", false, false},
	} {
		if c.s.Valid() != c.valid || c.s.Terminal() != c.terminal {
			t.Errorf("%q: valid %v terminal %v, want %v %v", c.s, c.s.Valid(), c.s.Terminal(), c.valid, c.terminal)
		}
	}
}

func TestSheetStates(t *testing.T) {
	for _, c := range []struct {
		s               SheetState
		valid, terminal bool
	}{
		{"pending", true, false}, {"running", true, false}, {"waiting", true, false},
		{"completed", true, true}, {"failed", true, true}, {"skipped", true, true}, {"cancelled", true, true},
		{"queued", false, false}, {"interrupted", false, false}, {"", false, false},
	} {
		if c.s.Valid() != c.valid || c.s.Terminal() != c.terminal {
			t.Errorf("%q: valid %v terminal %v, want %v %v", c.s, c.s.Valid(), c.s.Terminal(), c.valid, c.terminal)
		}
	}
}

func TestAttemptOutcomes(t *testing.T) {
	for _, c := range []struct {
		o                AttemptOutcome
		valid, succeeded bool
	}{
		{"completed", true, true}, {"failed", true, false}, {"timed_out", true, false}, {"stalled", true, false},
		{"rate_limited", true, false}, {"interrupted", true, false}, {"cancelled", true, false},
		{"timed out", false, false}, {"skipped", false, false},
	} {
		if c.o.Valid() != c.valid || c.o.Succeeded() != c.succeeded {
			t.Errorf("%q: valid %v succeeded %v, want %v %v", c.o, c.o.Valid(), c.o.Succeeded(), c.valid, c.succeeded)
		}
	}
}

func TestEventKinds(t *testing.T) {
	for _, c := range []struct {
		k     EventKind
		valid bool
	}{
		{"job.status", true}, {"sheet.status", true}, {"pressure", true}, {"stall", true}, {"anomaly", true},
		{"events.dropped", true}, {"job", false}, {"sheet_status", false},
	} {
		if c.k.Valid() != c.valid {
			t.Errorf("%q: valid %v, want %v", c.k, c.k.Valid(), c.valid)
		}
	}
}
