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
// still this member's).
func (m *Member) leaseLoop(ctx context.Context) {
	every := m.opts.LeaseTTL / 3
	for {
		m.keepAlive(ctx)
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
	octx, cancel := context.WithTimeout(ctx, m.opTimeout())
	defer cancel()
	sent := time.Now()
	if lease != 0 {
		res, err := m.cli.KeepAliveOnce(octx, lease)
		switch {
		case err == nil:
			m.confirm(lease, sent.Add(time.Duration(res.TTL)*time.Second))
			return
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			m.opts.Log.Warn("fleet lease expired: this member's claims are gone", "lease", fmt.Sprintf("%x", lease))
			m.mu.Lock()
			m.lease, m.validUntil = 0, time.Time{}
			m.mu.Unlock()
			m.Kick() // the claim round abandons what was lost
		default:
			m.setErr(err)
			return
		}
	}
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
	m.confirm(g.ID, sent.Add(time.Duration(g.TTL)*time.Second))
	m.mu.Lock()
	m.published = MemberInfo{} // publish again under the new lease
	m.mu.Unlock()
	m.Kick()
}

func (m *Member) confirm(lease clientv3.LeaseID, until time.Time) {
	m.mu.Lock()
	blocked := !m.reachable || !time.Now().Before(m.validUntil)
	m.lease, m.validUntil, m.reachable, m.lastErr = lease, until, true, ""
	local := m.opts.Local
	m.mu.Unlock()
	if blocked && local != nil {
		local.FenceChanged() // sheets held while etcd was away may start
	}
}

// leaseState is the lease when it is known alive now.
func (m *Member) leaseState() (clientv3.LeaseID, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lease, m.lease != 0 && time.Now().Before(m.validUntil)
}
