package fleet

import (
	"fmt"
	"time"
)

// A member cut off from etcd while the other members reach it loses its
// lease there: its jobs are placed again elsewhere. It cannot tell that
// from etcd being down for everyone, so it fences itself: its fleet tries
// are stopped before the lease can end, unless etcd itself says the lease
// cannot end.
//
// What etcd guarantees (its lessor): only the leader of a quorum expires
// and revokes leases; a renewal is acknowledged by that leader, so the
// lease lives at least TTL after the renewal was sent; a newly elected
// leader first renews every lease for a full TTL. So after an etcd node
// answered that it has no leader, the lease cannot end within TTL of the
// question either: no quorum is there to end it, and the next leader
// starts the TTL again. (A node cut off from a quorum that still has a
// leader answers the same: a member partitioned together with a minority
// of etcd's nodes takes the quorum to be lost.)

// fenceMargin is how long before its lease can end a member stops its
// fleet tries: room for their kill grace (at most half of it) and for the
// stop to land.
func fenceMargin(ttl time.Duration) time.Duration { return ttl / 3 }

// etcdView is what a member knows of etcd when it decides on its fence.
type etcdView struct {
	ttl time.Duration
	// acked is when the last acknowledged keepalive (or grant) of the
	// lease was sent; zero: none known.
	acked time.Time
	// noLeader is when a probe was sent that an etcd node answered with
	// "no leader"; zero: none.
	noLeader time.Time
}

// fenceVerdict is the member's fence decision.
type fenceVerdict struct {
	// stop: the fleet tries must be stopped now, and none started.
	stop bool
	// noQuorum: etcd says it has no leader since the last renewal, so the
	// lease cannot end yet: running tries go on.
	noQuorum bool
	// until is when the fence falls unless etcd renews the lease or says
	// again that it has no leader.
	until time.Time
}

// decideFence decides whether the member's fleet tries may go on at now.
// The lease lives at least TTL past the later of its last renewal and the
// last "no leader" answer; the tries must be dead fenceMargin before that.
func decideFence(v etcdView, now time.Time) fenceVerdict {
	base, noQuorum := v.acked, false
	if v.noLeader.After(v.acked) {
		base, noQuorum = v.noLeader, true
	}
	if base.IsZero() {
		return fenceVerdict{stop: true}
	}
	until := base.Add(v.ttl - fenceMargin(v.ttl))
	if !now.Before(until) {
		return fenceVerdict{stop: true, until: until}
	}
	return fenceVerdict{noQuorum: noQuorum, until: until}
}

// probeDue tells whether the member should ask etcd's nodes whether they
// have a leader: its last renewal is overdue (keepalives go every sixth of
// the TTL), and the answer must come before the fence would fall.
func probeDue(v etcdView, now time.Time) bool {
	return !now.Before(v.acked.Add(v.ttl / 4))
}

// fenceSafety says, for conductor-status and fleet status, why this
// member runs or stopped its fleet jobs; "" when etcd renews the lease.
func fenceSafety(f fenceVerdict, fencedAt time.Time, reachable bool) string {
	switch {
	case f.stop && !fencedAt.IsZero():
		return fmt.Sprintf("etcd unreachable: fleet jobs stopped for safety at %s (the lease may have ended; they run again once etcd confirms this member still holds them)",
			fencedAt.UTC().Format(time.RFC3339))
	case f.stop:
		return "etcd unreachable: fleet jobs held for safety"
	case f.noQuorum:
		return "etcd has no quorum: running what this member holds, claiming nothing"
	case !reachable:
		return fmt.Sprintf("etcd unreachable: fleet jobs stop at %s unless etcd answers", f.until.UTC().Format(time.RFC3339))
	}
	return ""
}
