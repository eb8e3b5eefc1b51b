package fleet

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// fenceTick is how often the member looks at its fence and, while its
// renewals are overdue, asks etcd's nodes whether they have a leader.
func (m *Member) fenceTick() time.Duration { return max(m.opts.LeaseTTL/12, 20*time.Millisecond) }

// view is what the member knows of etcd now (m.mu held).
func (m *Member) view() etcdView {
	return etcdView{ttl: m.opts.LeaseTTL, acked: m.acked, noLeader: m.noLeader}
}

// fenceLoop stops this member's fleet tries when its lease may end soon
// (decideFence), and lifts the fence once etcd renews the lease again. It
// wakes at the fence's deadline, not only on its tick, and never waits on
// etcd itself (probeLoop does).
func (m *Member) fenceLoop(ctx context.Context) {
	m.mu.Lock()
	unknown := m.lease != 0 && m.acked.IsZero()
	m.mu.Unlock()
	if unknown {
		// A restart that took up a lease but found no renewal time (left by
		// a version that did not keep one): the first renewal, a moment
		// away, tells; judging before it would stop the tries just adopted
		// for want of a time nobody recorded. Bounded: a renewal that does
		// not come lets the fence decide as usual.
		select {
		case <-ctx.Done():
			return
		case <-m.renewed:
		case <-time.After(m.opts.LeaseTTL/6 + 100*time.Millisecond):
		}
	}
	for {
		wait := m.fenceTick()
		if until := m.checkFence(); !until.IsZero() {
			wait = min(wait, max(time.Until(until), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// checkFence applies the fence decision now and returns when it may fall.
// While it stands it asks again, every tick, that the tries of the jobs
// held here be stopped: a job whose actor was not running yet the first
// time (or a try adopted since) is stopped too; asking twice does nothing.
func (m *Member) checkFence() time.Time {
	now := time.Now()
	m.mu.Lock()
	f := decideFence(m.view(), now)
	var ids []string
	first := false
	if f.stop {
		for id := range m.owned {
			ids = append(ids, id)
		}
		if len(ids) > 0 && m.fencedAt.IsZero() {
			m.fencedAt, first = now, true
		}
	} else {
		m.fencedAt = time.Time{}
	}
	local := m.opts.Local
	m.mu.Unlock()
	if len(ids) == 0 || local == nil {
		return f.until
	}
	slices.Sort(ids)
	reason := "fleet: etcd is unreachable; the try was stopped before this member's lease could end, so that the job never runs on two members at once"
	if first {
		m.opts.Log.Warn("etcd unreachable: stopping this member's fleet tries before its lease can end",
			"jobs", ids, "fence_at", f.until)
	}
	local.Fence(ids, reason)
	return f.until
}

// probeLoop asks etcd's nodes whether they have a leader while this
// member holds fleet jobs and its renewals are overdue: a node that
// answers "no leader" tells the lease cannot end (partition.go), so
// running tries go on.
func (m *Member) probeLoop(ctx context.Context) {
	for {
		m.mu.Lock()
		due := len(m.owned) > 0 && probeDue(m.view(), time.Now())
		m.mu.Unlock()
		if due {
			m.probe(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.fenceTick()):
		}
	}
}

// probe asks every endpoint for its status at once, each within a sixth of
// the TTL; one "no leader" answer is recorded with the time it was asked.
func (m *Member) probe(ctx context.Context) {
	sent := time.Now()
	pctx, cancel := context.WithTimeout(ctx, max(m.opts.LeaseTTL/6, 100*time.Millisecond))
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		noLeader bool
	)
	for _, ep := range m.opts.Endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := m.cli.Status(pctx, ep)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && res.Leader == 0 || errors.Is(err, rpctypes.ErrNoLeader) {
				noLeader = true // unreachable or led: no evidence either way
			}
		}()
	}
	wg.Wait()
	if !noLeader {
		return
	}
	m.mu.Lock()
	m.noLeader = sent
	m.mu.Unlock()
}
