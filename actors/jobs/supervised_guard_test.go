package jobs

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/supervisor"
)

func TestNewOrphanGuard(t *testing.T) {
	cases := []struct {
		name             string
		after, killGrace time.Duration
		want             orphanGuard
	}{
		{"not a fleet job", 0, 5 * time.Second, orphanGuard{}},
		{"grace bounded by half the deadline", 3 * time.Second, 5 * time.Second, orphanGuard{3 * time.Second, 1500 * time.Millisecond}},
		{"a short grace kept", 3 * time.Second, time.Second, orphanGuard{3 * time.Second, time.Second}},
		{"no grace set: the default, bounded", 3 * time.Second, 0, orphanGuard{3 * time.Second, 1500 * time.Millisecond}},
		{"a tiny deadline still has a grace", time.Millisecond, time.Second, orphanGuard{time.Millisecond, time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := newOrphanGuard(tc.after, tc.killGrace); got != tc.want {
				t.Fatalf("newOrphanGuard(%s, %s) = %+v, want %+v", tc.after, tc.killGrace, got, tc.want)
			}
		})
	}
}

type fleetWithDeadline struct{ fakeDeadlineFleet }

type fakeDeadlineFleet struct{}

func (fakeDeadlineFleet) Allowed(string) bool                 { return true }
func (fakeDeadlineFleet) FenceReason(string) string           { return "" }
func (fakeDeadlineFleet) RateLimitSeen(string, time.Time)     {}
func (fleetWithDeadline) OrphanDeadline(string) time.Duration { return time.Second }

func TestOrphanDeadlineOf(t *testing.T) {
	if orphanDeadlineOf(nil) != nil {
		t.Error("no fleet: no deadline")
	}
	if orphanDeadlineOf(fakeDeadlineFleet{}) != nil {
		t.Error("a fleet that tells no deadline: none")
	}
	if f := orphanDeadlineOf(fleetWithDeadline{}); f == nil || f("job") != time.Second {
		t.Error("the fleet's deadline is used")
	}
}

// A supervisor too old to honour the guard is not sent a fleet job's try:
// the caller runs it in the conductor instead.
func TestGuardedTryNotSentToAnOlderSupervisor(t *testing.T) {
	var own supervisor.Own
	own.Set(&supervisor.Client{Path: "/nonexistent/sup.sock", V: 2})
	spec := sheetrun.Spec{Argv: []string{"/bin/true"}}
	var logged bytes.Buffer
	_, ok := runSupervised(context.Background(), own.Client(), spec, "run/1/1", t.TempDir()+"/x.exit", "", nil,
		newOrphanGuard(time.Second, time.Second), slog.New(slog.NewTextHandler(&logged, nil)))
	if ok {
		t.Fatal("a guarded try was handed to a protocol 2 supervisor")
	}
	if !strings.Contains(logged.String(), "cannot stop a fleet job's try") {
		t.Fatalf("not refused for its protocol (log %q)", logged.String())
	}
}
