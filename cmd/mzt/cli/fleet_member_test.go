package cli

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// What conductor-status and fleet status say of this member's fleet.
func TestFleetHealthText(t *testing.T) {
	fenced := time.Date(2026, 12, 2, 10, 0, 6, 0, time.UTC).UnixNano()
	tests := []struct {
		name string
		h    *messages.FleetHealth
		want string
		at   string // fenced_at in JSON
	}{
		{"reachable, claiming", &messages.FleetHealth{Member: "m1", EtcdReachable: true, OwnedJobs: 2, Claiming: true},
			"member m1 · etcd reachable · 2 fleet jobs here · claiming jobs", ""},
		{"unreachable, holding nothing", &messages.FleetHealth{Member: "m1", EtcdError: "context deadline exceeded"},
			"member m1 · etcd unreachable (context deadline exceeded) · running its 0 fleet jobs, claiming none", ""},
		{"stopped for safety", &messages.FleetHealth{Member: "m2", EtcdError: "context deadline exceeded", OwnedJobs: 1,
			Safety: "etcd unreachable: fleet jobs stopped for safety at 2026-12-02T10:00:06Z", FencedUnixNano: fenced},
			"member m2 · etcd unreachable: fleet jobs stopped for safety at 2026-12-02T10:00:06Z · 1 fleet jobs here (context deadline exceeded)",
			"2026-12-02T10:00:06Z"},
		{"no quorum", &messages.FleetHealth{Member: "m1", EtcdError: "context deadline exceeded", OwnedJobs: 1,
			Safety: "etcd has no quorum: running what this member holds, claiming nothing"},
			"member m1 · etcd has no quorum: running what this member holds, claiming nothing · 1 fleet jobs here (context deadline exceeded)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fleetHealthText(tt.h); got != tt.want {
				t.Errorf("fleetHealthText =\n%s\nwant\n%s", got, tt.want)
			}
			if got := toFleetHealthJSON(tt.h); got.FencedAt != tt.at || got.Safety != tt.h.GetSafety() {
				t.Errorf("JSON fenced_at = %q, safety = %q; want %q, %q", got.FencedAt, got.Safety, tt.at, tt.h.GetSafety())
			}
		})
	}
}
