package fleet

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The fence decides, before every sheet, whether a job may run here.
func TestFence(t *testing.T) {
	now := time.Now()
	const lease = clientv3.LeaseID(7)
	tests := []struct {
		name      string
		owned     *ownedJob
		lost      bool
		lease     clientv3.LeaseID
		until     time.Time
		reachable bool
		allowed   bool
		reason    string
	}{
		{"not a fleet job", nil, false, lease, now.Add(time.Minute), true, true, ""},
		{"not a fleet job, etcd away", nil, false, 0, time.Time{}, false, true, ""},
		{"claimed and confirmed", &ownedJob{ClaimRev: 5, Lease: 7, verified: true}, false, lease, now.Add(time.Minute), true, true, ""},
		{"kept from before a restart, not confirmed yet", &ownedJob{ClaimRev: 5, Lease: 7}, false, lease, now.Add(time.Minute), true, false,
			"fleet: this member's claim on the job is not confirmed yet"},
		{"claimed under an older lease", &ownedJob{ClaimRev: 5, Lease: 6, verified: true}, false, lease, now.Add(time.Minute), true, false,
			"fleet: this member's claim on the job is not confirmed yet"},
		{"lease not renewed in time", &ownedJob{ClaimRev: 5, Lease: 7, verified: true}, false, lease, now.Add(-time.Second), true, false,
			"fleet: this member's lease is not confirmed"},
		{"etcd unreachable", &ownedJob{ClaimRev: 5, Lease: 7, verified: true}, false, lease, now.Add(time.Minute), false, false,
			"fleet: etcd is unreachable, so this member cannot confirm its claim on the job"},
		{"abandoned here", nil, true, lease, now.Add(time.Minute), true, false, "fleet: this member lost the job's claim"},
		{"lease renewed, but within the fence's margin of its end", &ownedJob{ClaimRev: 5, Lease: 7, verified: true}, false, lease,
			now.Add(time.Second), true, false, "fleet: this member's lease is not confirmed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Member{owned: map[string]*ownedJob{}, lost: map[string]bool{}, lease: tt.lease, validUntil: tt.until,
				reachable: tt.reachable, opts: Options{LeaseTTL: 6 * time.Second}}
			if tt.owned != nil {
				m.owned["j"] = tt.owned
			}
			m.lost["j"] = tt.lost
			if got := m.Allowed("j"); got != tt.allowed {
				t.Errorf("Allowed = %v, want %v", got, tt.allowed)
			}
			if got := m.FenceReason("j"); !tt.allowed && got != tt.reason {
				t.Errorf("FenceReason = %q, want %q", got, tt.reason)
			}
		})
	}
}

// After the member stopped its tries for safety, held sheets say so.
func TestFenceReasonOnceFenced(t *testing.T) {
	m := &Member{owned: map[string]*ownedJob{"j": {ClaimRev: 5, Lease: 7, verified: true}}, lost: map[string]bool{},
		lease: 7, fencedAt: time.Now()}
	if m.Allowed("j") {
		t.Fatal("a fenced member starts a sheet of its fleet job")
	}
	want := "fleet: etcd is unreachable; this member stopped the job's tries for safety (its lease may end, and the job be placed elsewhere)"
	if got := m.FenceReason("j"); got != want {
		t.Errorf("FenceReason = %q, want %q", got, want)
	}
}
