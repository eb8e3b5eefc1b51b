package jobs

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/monitor"
)

func TestSlotWaitReason(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	w := &slotRequest{jobID: "j", num: 1, instrument: "claude-code", maxConcurrent: 2}
	for _, tc := range []struct {
		name  string
		setup func(s *slots)
		want  string
	}{
		{"nothing holds it", func(s *slots) {}, ""},
		{"pressure", func(s *slots) { s.pressure = monitor.High }, "resource pressure (high)"},
		{"the conductor's sheet limit", func(s *slots) {
			s.held[slotKey{"a", 1}], s.held[slotKey{"a", 2}] = heldSlot{instrument: "shell"}, heldSlot{instrument: "shell"}
		}, "conductor max_concurrent_sheets (2) reached"},
		{"the instrument's max_concurrent", func(s *slots) {
			s.maxSheets = 10
			s.held[slotKey{"a", 1}], s.held[slotKey{"b", 1}] = heldSlot{instrument: "claude-code"}, heldSlot{instrument: "claude-code"}
			s.perInst["claude-code"] = 2
		}, "instrument claude-code max_concurrent (2) reached"},
		{"a rate limit until a time", func(s *slots) { s.rateUntil["claude-code"] = now.Add(90 * time.Second) },
			"instrument claude-code is rate limited until 08:54:50Z"},
		{"a rate limit that ended says nothing", func(s *slots) { s.rateUntil["claude-code"] = now.Add(-time.Second) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlots(2)
			tc.setup(s)
			if got := s.slotWaitReason(w, now); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A job hears of each change of its waiting sheet's reason once, including
// the change back to none, so a stale reason is cleared.
func TestSlotReasonsAreToldOncePerChange(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	s := newSlots(1)
	s.request(&slotRequest{jobID: "j", num: 1, instrument: "x"})
	s.held[slotKey{"other", 1}] = heldSlot{instrument: "x"}
	if n := s.reasons(now); len(n) != 1 || n[0].reason != "conductor max_concurrent_sheets (1) reached" {
		t.Fatalf("first round: %+v", n)
	}
	if n := s.reasons(now); len(n) != 0 {
		t.Fatalf("same reason told again: %+v", n)
	}
	delete(s.held, slotKey{"other", 1})
	if n := s.reasons(now); len(n) != 1 || n[0].reason != "" {
		t.Fatalf("the limit lifted: %+v, want the reason cleared", n)
	}
}
