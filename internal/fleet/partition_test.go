package fleet

import (
	"strings"
	"testing"
	"time"
)

// The member stops its fleet tries a third of the TTL before its lease can
// end, unless etcd said since the last renewal that it has no leader.
func TestDecideFence(t *testing.T) {
	const ttl = 9 * time.Second
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := []struct {
		name     string
		acked    time.Time
		noLeader time.Time
		now      time.Time
		stop     bool
		noQuorum bool
		until    time.Time
	}{
		{"renewed just now", at(0), time.Time{}, at(time.Second), false, false, at(6 * time.Second)},
		{"renewals late, margin left", at(0), time.Time{}, at(5 * time.Second), false, false, at(6 * time.Second)},
		{"unreachable past two thirds of the TTL", at(0), time.Time{}, at(6 * time.Second), true, false, at(6 * time.Second)},
		{"never renewed (no lease known)", time.Time{}, time.Time{}, at(0), true, false, time.Time{}},
		{"no leader since the renewal: runs on", at(0), at(5 * time.Second), at(7 * time.Second), false, true, at(11 * time.Second)},
		{"no leader said long ago", at(0), at(5 * time.Second), at(11 * time.Second), true, false, at(11 * time.Second)},
		{"no leader before the last renewal counts for nothing", at(10 * time.Second), at(5 * time.Second), at(17 * time.Second), true, false, at(16 * time.Second)},
		{"no leader at start, before any renewal here", time.Time{}, at(0), at(time.Second), false, true, at(6 * time.Second)},
		{"renewed again after a fence", at(20 * time.Second), time.Time{}, at(21 * time.Second), false, false, at(26 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decideFence(etcdView{ttl: ttl, acked: tt.acked, noLeader: tt.noLeader}, tt.now)
			if got.stop != tt.stop || got.noQuorum != tt.noQuorum || !got.until.Equal(tt.until) {
				t.Errorf("decideFence = %+v, want stop=%v noQuorum=%v until=%v", got, tt.stop, tt.noQuorum, tt.until)
			}
		})
	}
}

// The fence's deadline leaves room for the tries' kill grace: with the
// grace bounded to a sixth of the TTL (as fleet tries' is), a try stopped
// at the deadline is dead before the lease can end.
func TestFenceLeavesRoomForTheKillGrace(t *testing.T) {
	for _, ttl := range []time.Duration{2 * time.Second, 4 * time.Second, 10 * time.Second, time.Minute} {
		t0 := time.Now()
		f := decideFence(etcdView{ttl: ttl, acked: t0}, t0)
		if dead, end := f.until.Add(ttl/6), t0.Add(ttl); !dead.Before(end) {
			t.Errorf("ttl %s: a try stopped at %s is dead at %s, not before the lease can end at %s", ttl, f.until, dead, end)
		}
	}
}

// The member asks etcd's nodes for a leader once a renewal is overdue, in
// time for the answer to come before the fence would fall.
func TestProbeDue(t *testing.T) {
	const ttl = 12 * time.Second
	t0 := time.Now()
	v := etcdView{ttl: ttl, acked: t0}
	if probeDue(v, t0.Add(2*time.Second)) {
		t.Error("probing while renewals come on time")
	}
	if !probeDue(v, t0.Add(3*time.Second)) {
		t.Error("not probing once a renewal is overdue")
	}
	if !probeDue(etcdView{ttl: ttl}, t0) {
		t.Error("not probing before any renewal")
	}
	// The probe starts by a quarter of the TTL plus a tick (a twelfth) and
	// takes at most a sixth: it ends before the fence at two thirds.
	if start, end := ttl/4+ttl/12, ttl/4+ttl/12+ttl/6; end >= ttl-fenceMargin(ttl) {
		t.Errorf("a probe started at %s ends at %s, after the fence at %s", start, end, ttl-fenceMargin(ttl))
	}
}

func TestFenceSafety(t *testing.T) {
	until := time.Date(2026, 12, 2, 10, 0, 6, 0, time.UTC)
	fencedAt := time.Date(2026, 12, 2, 10, 0, 6, 0, time.UTC)
	tests := []struct {
		name      string
		f         fenceVerdict
		fencedAt  time.Time
		reachable bool
		want      string
	}{
		{"fine", fenceVerdict{until: until}, time.Time{}, true, ""},
		{"stopped", fenceVerdict{stop: true, until: until}, fencedAt, false, "etcd unreachable: fleet jobs stopped for safety at 2026-12-02T10:00:06Z"},
		{"no quorum", fenceVerdict{noQuorum: true, until: until}, time.Time{}, false, "etcd has no quorum: running what this member holds, claiming nothing"},
		{"unreachable, fence not fallen yet", fenceVerdict{until: until}, time.Time{}, false, "etcd unreachable: fleet jobs stop at 2026-12-02T10:00:06Z unless etcd answers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fenceSafety(tt.f, tt.fencedAt, tt.reachable)
			if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
				t.Errorf("fenceSafety = %q, want %q", got, tt.want)
			}
		})
	}
}

// A restart reads when its predecessor last renewed the lease, for that
// lease only.
func TestAckKeptForTheSameLease(t *testing.T) {
	d := disk{dir: t.TempDir()}
	if got := d.loadAck(7); !got.IsZero() {
		t.Fatalf("loadAck with nothing kept = %v", got)
	}
	sent := time.Unix(0, 1764669606123456789)
	if err := d.saveAck(7, sent); err != nil {
		t.Fatal(err)
	}
	if got := d.loadAck(7); !got.Equal(sent) {
		t.Errorf("loadAck(7) = %v, want %v", got, sent)
	}
	if got := d.loadAck(8); !got.IsZero() {
		t.Errorf("loadAck of another lease = %v, want zero", got)
	}
}
