package fleet

import (
	"testing"
	"time"
)

func TestOrphanDeadline(t *testing.T) {
	m := &Member{opts: Options{LeaseTTL: 9 * time.Second}, owned: map[string]*ownedJob{"fleet-job": {ClaimRev: 3, Lease: 7}},
		lost: map[string]bool{}}
	cases := []struct {
		job  string
		want time.Duration
	}{
		{"fleet-job", 3 * time.Second}, // a third of the lease TTL
		{"local-job", 0},               // not a fleet job: its tries wait for any conductor
	}
	for _, tc := range cases {
		if got := m.OrphanDeadline(tc.job); got != tc.want {
			t.Errorf("OrphanDeadline(%q) = %s, want %s", tc.job, got, tc.want)
		}
	}
}
