package fleet

import (
	"context"
	"encoding/json"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// checkOwned abandons jobs whose claim is gone or another's, confirms the
// rest, and records the ends of those that finished here.
func (m *Member) checkOwned(ctx context.Context, view queueView, lease clientv3.LeaseID) {
	m.mu.Lock()
	ids := make(map[string]ownedJob, len(m.owned))
	for id, o := range m.owned {
		ids[id] = *o
	}
	m.mu.Unlock()
	confirmed := false
	for id, o := range ids {
		c, ok := view.claims[id]
		if !ok || c.rev != o.ClaimRev || c.Member != m.opts.Name {
			m.abandon(ctx, id, "member "+m.opts.Name+" lost the job's claim (its lease expired); it runs elsewhere")
			continue
		}
		if !o.verified {
			m.mu.Lock()
			if cur := m.owned[id]; cur != nil {
				cur.verified = true
			}
			m.mu.Unlock()
			confirmed = true
		}
		state, cost, found, err := m.opts.Local.JobState(ctx, id)
		if err != nil || !found {
			continue
		}
		switch state {
		case "completed", "failed", "cancelled":
			m.end(ctx, id, &o, state, "")
			continue
		}
		// What it spent so far counts if it is placed again.
		if j, ok := view.jobs[id]; ok && cost > j.job.SpentUSD {
			j.job.SpentUSD = cost
			if err := m.st.recordSpend(ctx, j.job, o.ClaimRev); err != nil {
				m.setErr(err)
			}
		}
	}
	if confirmed {
		m.opts.Local.FenceChanged()
	}
}

// release gives a claim back: the job is queued again, claimable by
// anyone, with why it was given back.
func (m *Member) release(ctx context.Context, j Job, rev int64, why string) {
	j.State, j.Member, j.Reason = StateQueued, "", "given back by "+m.opts.Name+": "+why
	data, _ := json.Marshal(j)
	if _, err := m.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(claimKey(j.ID)), "=", rev)).
		Then(clientv3.OpDelete(claimKey(j.ID)), clientv3.OpPut(jobKey(j.ID), string(data))).Commit(); err != nil {
		m.opts.Log.Warn("cannot give a fleet claim back; it ends with this member's lease", "job", j.ID, "err", err)
	}
	m.mu.Lock()
	delete(m.owned, j.ID)
	m.mu.Unlock()
	if err := m.disk.dropOwned(j.ID); err != nil {
		m.opts.Log.Warn("fleet", "err", err)
	}
}

func (m *Member) end(ctx context.Context, id string, o *ownedJob, state, reason string) {
	ok, err := m.st.finish(ctx, id, o.ClaimRev, doneRecord{ID: id, State: state, Member: m.opts.Name, Reason: reason,
		Finished: time.Now().UTC()}, m.doneLease(ctx))
	if err != nil {
		m.setErr(err)
		return
	}
	if !ok {
		m.opts.Log.Warn("fleet job ended here after its claim was lost; its end is not recorded", "job", id, "state", state)
	}
	m.mu.Lock()
	delete(m.owned, id)
	m.mu.Unlock()
	if err := m.disk.dropOwned(id); err != nil {
		m.opts.Log.Warn("fleet", "err", err)
	}
}

func (m *Member) abandon(ctx context.Context, id, reason string) {
	m.mu.Lock()
	m.lost[id] = true
	m.mu.Unlock()
	m.opts.Log.Warn("fleet job abandoned", "job", id, "reason", reason)
	if err := m.opts.Local.Abandon(ctx, id, reason); err != nil {
		m.opts.Log.Warn("cannot stop an abandoned fleet job; trying again next round", "job", id, "err", err)
		return
	}
	m.mu.Lock()
	delete(m.owned, id)
	m.mu.Unlock()
	if err := m.disk.dropOwned(id); err != nil {
		m.opts.Log.Warn("fleet", "err", err)
	}
}

// Allowed is the fence checked before any sheet starts: a fleet job's
// sheet may start only while this member's claim on it is confirmed and its
// lease known alive. Jobs that are not fleet jobs are always allowed.
func (m *Member) Allowed(jobID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost[jobID] {
		return false
	}
	o, ok := m.owned[jobID]
	if !ok {
		return true
	}
	return o.verified && int64(m.lease) == o.Lease && time.Now().Before(m.safeUntil()) && m.reachable
}

// FenceReason says why Allowed holds a job's sheets back.
func (m *Member) FenceReason(jobID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch o, ok := m.owned[jobID]; {
	case m.lost[jobID]:
		return "fleet: this member lost the job's claim"
	case !ok:
		return ""
	case !m.fencedAt.IsZero():
		return "fleet: etcd is unreachable; this member stopped the job's tries for safety (its lease may end, and the job be placed elsewhere)"
	case !m.reachable:
		return "fleet: etcd is unreachable, so this member cannot confirm its claim on the job"
	case !o.verified || int64(m.lease) != o.Lease:
		return "fleet: this member's claim on the job is not confirmed yet"
	default:
		return "fleet: this member's lease is not confirmed"
	}
}

// doneKeep is how long etcd remembers where a fleet job ended (status and
// logs of it are routed there meanwhile): the records stay bounded by a
// week of jobs.
const doneKeep = 7 * 24 * time.Hour

// doneLease is the lease the ends of jobs are written under: one a day,
// each living doneKeep. 0 (no lease) when etcd refuses one now.
func (m *Member) doneLease(ctx context.Context) clientv3.LeaseID {
	m.mu.Lock()
	lease, at := m.done, m.doneAt
	m.mu.Unlock()
	if lease != 0 && time.Since(at) < 24*time.Hour {
		return lease
	}
	g, err := m.cli.Grant(ctx, int64(doneKeep/time.Second))
	if err != nil {
		return lease
	}
	m.mu.Lock()
	m.done, m.doneAt = g.ID, time.Now()
	m.mu.Unlock()
	return g.ID
}
