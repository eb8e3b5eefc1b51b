package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// userTimeout bounds an etcd request a user waits for.
const userTimeout = 10 * time.Second

// Name is this member's name.
func (m *Member) Name() string { return m.opts.Name }

// Submit queues a job for the fleet. A transient etcd error (a leader
// election after a node died) is retried within the user's wait; a retry
// that finds the job already queued by this very submit succeeds.
func (m *Member) Submit(ctx context.Context, j Job) error {
	j.SubmittedBy, j.Submitted, j.Placements, j.Member, j.Reason = m.opts.Name, time.Now().UTC(), 0, "", ""
	j, err := m.placeBundle(j)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, max(m.opTimeout(), userTimeout))
	defer cancel()
	for try := 0; ; try++ {
		err := m.st.submit(ctx, j)
		if try > 0 && errors.Is(err, ErrExists) && m.st.isSubmit(ctx, j) {
			err = nil
		}
		if err == nil {
			m.Kick()
			return nil
		}
		if errors.Is(err, ErrExists) || errors.Is(err, ErrTooLarge) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Health is this member's view of the fleet for conductor-status.
func (m *Member) Health() *messages.FleetHealth {
	_, alive := m.leaseState()
	m.mu.Lock()
	defer m.mu.Unlock()
	h := &messages.FleetHealth{Member: m.opts.Name, EtcdReachable: m.reachable, OwnedJobs: int64(len(m.owned)),
		Claiming: alive && m.reachable}
	if !m.reachable {
		h.EtcdError = m.lastErr
	}
	if !m.fencedAt.IsZero() {
		h.FencedUnixNano = m.fencedAt.UnixNano()
	}
	if len(m.owned) > 0 && !m.reachable || !m.fencedAt.IsZero() {
		h.Safety = fenceSafety(decideFence(m.view(), time.Now()), m.fencedAt, m.reachable)
	}
	return h
}

// Status lists the live members as they published themselves.
func (m *Member) Status(ctx context.Context) (*messages.FleetStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, m.opTimeout())
	defer cancel()
	out := &messages.FleetStatus{Self: m.Health()}
	ms, err := m.st.members(ctx)
	if err != nil {
		m.setErr(err)
		out.Self = m.Health()
		return out, nil
	}
	for _, mi := range ms {
		if mi.Name == "" {
			continue // registered, capacity not published yet
		}
		out.Members = append(out.Members, &messages.FleetMember{Name: mi.Name, Address: mi.Address, Version: mi.Version,
			Pid: mi.PID, FreeJobs: mi.FreeJobs, FreeSheets: mi.FreeSheets, Pressure: mi.Pressure, RunningJobs: mi.RunningJobs,
			RunningSheets: mi.RunningSheets, Instruments: mi.Instruments, UpdatedUnixNano: mi.Updated.UnixNano(),
			OwnedJobs: mi.OwnedJobs})
	}
	return out, nil
}

// List is every queued and running fleet job with its member.
func (m *Member) List(ctx context.Context) (*messages.FleetJobList, error) {
	ctx, cancel := context.WithTimeout(ctx, max(m.opTimeout(), userTimeout))
	defer cancel()
	view, err := m.st.queue(ctx)
	if err != nil {
		m.setErr(err)
		return nil, err
	}
	out := &messages.FleetJobList{Revision: view.rev}
	for id, c := range view.jobs {
		j := c.job
		fj := &messages.FleetJob{Id: id, State: StateQueued, Priority: j.Priority, SubmittedBy: j.SubmittedBy, User: j.User,
			SubmittedUnixNano: j.Submitted.UnixNano(), Placements: j.Placements, Reason: j.Reason, Score: j.Score,
			SpentUsd: j.PriorUSD + j.SpentUSD}
		if cl, ok := view.claims[id]; ok {
			fj.State, fj.Member = StateRunning, cl.Member
		} else if j.State == StateRunning && !j.Replace {
			fj.State, fj.Member, fj.Reason = "waiting", j.Member, "waits for member "+j.Member+" (fleet_replace = false)"
		}
		out.Jobs = append(out.Jobs, fj)
	}
	slices.SortFunc(out.Jobs, func(a, b *messages.FleetJob) int { return strings.Compare(a.Id, b.Id) })
	return out, nil
}

// Where finds the member running (or that ran) a fleet job, and its
// Conductor service address. member is "" while the job is queued.
func (m *Member) Where(ctx context.Context, id string) (member, address, state string, err error) {
	ctx, cancel := context.WithTimeout(ctx, max(m.opTimeout(), userTimeout))
	defer cancel()
	member, state, err = m.st.where(ctx, id)
	if err != nil || member == "" {
		return member, "", state, err
	}
	mi, ok, err := m.st.member(ctx, member)
	if err != nil || !ok {
		return member, "", state, err
	}
	return member, mi.Address, state, nil
}

// CancelQueued ends a fleet job nobody has claimed yet.
func (m *Member) CancelQueued(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, max(m.opTimeout(), userTimeout))
	defer cancel()
	return m.st.cancelQueued(ctx, id, m.opts.Name, m.doneLease(ctx))
}
