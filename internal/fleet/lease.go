package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseLoop keeps the member's lease alive, taking up the one a previous
// run of this conductor left when it still lives (then its claims are
// still this member's). It renews every sixth of the TTL, each try bounded
// by as much: a lost or slow renewal is made up for before the fence falls
// at two thirds of the TTL (partition.go).
func (m *Member) leaseLoop(ctx context.Context) {
	every := m.opts.LeaseTTL / 6
	for {
		m.keepAlive(ctx)
		m.renewedOnce.Do(func() { close(m.renewed) })
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (m *Member) keepAlive(ctx context.Context) {
	m.mu.Lock()
	lease := m.lease
	m.mu.Unlock()
	octx, cancel := context.WithTimeout(ctx, max(m.opts.LeaseTTL/6, 100*time.Millisecond))
	defer cancel()
	sent := time.Now()
	if lease != 0 {
		res, err := m.cli.KeepAliveOnce(octx, lease)
		switch {
		case err == nil && time.Duration(res.TTL)*time.Second < m.opts.LeaseTTL:
			// Taken up from a run with a shorter lease_ttl: etcd ends it
			// sooner than this member's fence reckons, so another member
			// could run its jobs while they still run here. Give it up: its
			// jobs are placed again, and this member joins anew.
			m.opts.Log.Warn("the fleet lease left by the previous run has a shorter TTL than lease_ttl: giving it up; its jobs are placed again",
				"lease", fmt.Sprintf("%x", lease), "lease_ttl_seconds", res.TTL, "lease_ttl", m.opts.LeaseTTL)
			m.cli.Revoke(context.WithoutCancel(octx), lease)
			m.mu.Lock()
			m.lease, m.validUntil, m.acked = 0, time.Time{}, time.Time{}
			m.mu.Unlock()
			m.Kick() // the claim round abandons what was lost
		case err == nil:
			m.confirm(lease, sent)
			return
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			m.opts.Log.Warn("fleet lease expired: this member's claims are gone", "lease", fmt.Sprintf("%x", lease))
			m.mu.Lock()
			// Gone: another member may run its jobs already; stop them now.
			m.lease, m.validUntil, m.acked = 0, time.Time{}, time.Time{}
			m.mu.Unlock()
			m.Kick() // the claim round abandons what was lost
		default:
			m.setErr(err)
			return
		}
	}
	octx, cancel = context.WithTimeout(ctx, m.opTimeout()) // granting and joining take a few writes
	defer cancel()
	sent = time.Now()
	g, err := m.cli.Grant(octx, int64(m.opts.LeaseTTL/time.Second))
	if err != nil {
		m.setErr(err)
		return
	}
	if err := m.st.claimName(octx, m.opts.Name, g.ID); err != nil {
		m.cli.Revoke(context.WithoutCancel(octx), g.ID)
		m.setErr(err)
		m.opts.Log.Error("cannot join the fleet", "err", err)
		return
	}
	if err := m.disk.saveLease(int64(g.ID)); err != nil {
		m.opts.Log.Warn("cannot keep the fleet lease id; a restart will take a new lease", "err", err)
	}
	m.opts.Log.Info("joined the fleet", "member", m.opts.Name, "lease", fmt.Sprintf("%x", g.ID), "ttl", m.opts.LeaseTTL)
	m.confirm(g.ID, sent)
	m.mu.Lock()
	m.published = MemberInfo{} // publish again under the new lease
	m.mu.Unlock()
	m.Kick()
}

// confirm records a renewal of lease sent at sent: etcd keeps it at least
// the TTL from then (its leader renews it on receipt).
func (m *Member) confirm(lease clientv3.LeaseID, sent time.Time) {
	m.mu.Lock()
	blocked := !m.reachable || !time.Now().Before(m.safeUntil())
	m.lease, m.validUntil, m.reachable, m.lastErr = lease, sent.Add(m.opts.LeaseTTL), true, ""
	m.acked = sent
	local := m.opts.Local
	m.mu.Unlock()
	// Kept for a restart, which goes on running this run's tries only as
	// long as the lease surely lives (no fsync: a crash of the host kills
	// the tries as well).
	if err := m.disk.saveAck(int64(lease), sent); err != nil {
		m.opts.Log.Warn("cannot keep the fleet lease's renewal time", "err", err)
	}
	m.checkFence()
	if blocked && local != nil {
		local.FenceChanged() // sheets held while etcd was away may start
	}
}

// safeUntil is when the lease, renewed here, may end minus the fence's
// margin: no sheet of a fleet job starts after it (m.mu held).
func (m *Member) safeUntil() time.Time {
	return m.validUntil.Add(-fenceMargin(m.opts.LeaseTTL))
}

// leaseState is the lease when it is known alive now, with the fence's
// margin to spare.
func (m *Member) leaseState() (clientv3.LeaseID, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lease, m.lease != 0 && time.Now().Before(m.safeUntil())
}
