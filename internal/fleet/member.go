package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Local is the conductor a member runs fleet jobs on.
type Local interface {
	// Capacity is what the conductor can take on now.
	Capacity(ctx context.Context) (Capacity, error)
	// Submit runs a claimed job here under its own id.
	Submit(ctx context.Context, j Job) error
	// JobState is the local job's state; found is false when it has none.
	JobState(ctx context.Context, id string) (state string, found bool, err error)
	// Abandon stops a job this member no longer owns, killing its tries.
	Abandon(ctx context.Context, id, reason string) error
	// Event records a fleet event in the job's history.
	Event(id, detail string)
	// ApplyLimit holds this conductor's sheets of the limit's account.
	ApplyLimit(l Limit)
	// FenceChanged: ownership was confirmed; sheets held by the fence may start.
	FenceChanged()
	// SpendToday is what this conductor's own tries reported spending on
	// day (local time, 2006-01-02).
	SpendToday(ctx context.Context) (day string, usd float64, err error)
	// ApplyFleetSpend tells the conductor what the other members spent on day.
	ApplyFleetSpend(day string, othersUSD float64)
}

// Options configure a member.
type Options struct {
	Name, Address, Version string
	PID                    int64
	Endpoints              []string
	TLS                    *tls.Config // nil: plain http endpoints
	LeaseTTL               time.Duration
	ClaimInterval          time.Duration
	PublishInterval        time.Duration
	Dir                    string // <home>/fleet: the lease and owned claims
	Local                  Local  // set by Start
	// Account maps an instrument to the account whose limits it shares
	// (nil: the instrument's own name); called off any actor.
	Account func(instrument string) string
	Log     *slog.Logger
}

// Member is this conductor in the fleet. Its methods are safe for
// concurrent use; its loops stop with Stop.
type Member struct {
	opts Options
	cli  *clientv3.Client
	st   store
	disk disk

	mu         sync.Mutex
	lease      clientv3.LeaseID
	validUntil time.Time // the lease is known alive until then
	reachable  bool
	lastErr    string
	owned      map[string]*ownedJob
	lost       map[string]bool // jobs abandoned here: never started again without a new claim
	limits     map[string]time.Time
	published  MemberInfo
	pubAt      time.Time
	spend      spendState

	kick      chan struct{}
	limitsOut chan Limit
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopOnce  sync.Once
}

// New makes the member: it reads the claims a previous run kept (their
// jobs are fenced until etcd confirms them) and makes the etcd client
// without waiting for etcd (an unreachable etcd is reported, never fatal).
// Nothing is claimed before Start.
func New(opts Options) (*Member, error) {
	d := disk{dir: opts.Dir}
	owned, err := d.loadOwned()
	if err != nil {
		return nil, err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: opts.Endpoints, TLS: opts.TLS, DialTimeout: 5 * time.Second,
		Logger: zap.NewNop(), AutoSyncInterval: 0})
	if err != nil {
		return nil, fmt.Errorf("fleet: etcd client: %w", err)
	}
	m := &Member{opts: opts, cli: cli, st: store{cli}, disk: d, owned: owned, lost: map[string]bool{},
		limits: map[string]time.Time{}, kick: make(chan struct{}, 1), limitsOut: make(chan Limit, 64), cancel: func() {},
		lastErr: "not connected yet"}
	m.lease = clientv3.LeaseID(d.loadLease())
	return m, nil
}

// Start runs the member's loops on this conductor.
func (m *Member) Start(local Local) {
	m.opts.Local = local
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.goSafe("lease", func() { m.leaseLoop(ctx) })
	m.goSafe("claims", func() { m.claimLoop(ctx) })
	m.goSafe("watch", func() { m.watchLoop(ctx) })
}

// Stop ends the loops and closes the etcd client. The lease is left to
// expire, or to be taken up again by the next start within its TTL.
func (m *Member) Stop() {
	m.stopOnce.Do(func() {
		m.cancel()
		m.wg.Wait()
		m.leave()
		m.cli.Close()
	})
}

// leave ends the lease at once when this member holds no job: the others
// see it gone now rather than after the TTL. With jobs it keeps the lease
// for the next start (a restart within the TTL keeps them).
func (m *Member) leave() {
	m.mu.Lock()
	lease, held := m.lease, len(m.owned)
	m.mu.Unlock()
	if lease == 0 || held > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := m.cli.Revoke(ctx, lease); err == nil {
		m.disk.saveLease(0)
	}
}

func (m *Member) goSafe(name string, fn func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				m.opts.Log.Error("fleet loop panicked; this member claims nothing more until restarted", "loop", name, "panic", fmt.Sprint(r))
				m.setErr(fmt.Errorf("the %s loop failed: %v", name, r))
			}
		}()
		fn()
	}()
}

// Kick asks for a claim round soon (capacity was freed, a job ended).
func (m *Member) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Member) opTimeout() time.Duration { return max(m.opts.LeaseTTL/3, time.Second) }

func (m *Member) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reachable, m.lastErr = false, err.Error()
}

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

// watchLoop turns every change in the fleet's keyspace into a claim round,
// so that placement does not wait for the next tick.
func (m *Member) watchLoop(ctx context.Context) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for res := range m.cli.Watch(wctx, prefix, clientv3.WithPrefix()) {
			if res.Err() != nil {
				break
			}
			m.Kick()
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(m.opts.ClaimInterval):
		}
	}
}

func (m *Member) claimLoop(ctx context.Context) {
	t := time.NewTicker(m.opts.ClaimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		case l := <-m.limitsOut:
			m.publishLimit(ctx, l)
			continue
		}
		if m.round(ctx) {
			m.Kick() // it claimed one: look again (one claim a round spreads jobs over members)
		}
	}
}

// round checks ownership, reports ended jobs, publishes capacity, applies
// shared limits and claims at most one job. It reports whether it claimed.
func (m *Member) round(ctx context.Context) bool {
	lease, alive := m.leaseState()
	if !alive {
		return false
	}
	octx, cancel := context.WithTimeout(ctx, m.opTimeout())
	defer cancel()
	view, err := m.st.queue(octx)
	if err != nil {
		m.setErr(err)
		return false
	}
	m.checkOwned(octx, view, lease)
	capa, err := m.opts.Local.Capacity(octx)
	if err != nil {
		m.opts.Log.Warn("fleet: cannot read this conductor's capacity", "err", err)
		return false
	}
	m.publish(octx, lease, capa)
	m.applyLimits(octx)
	m.syncSpend(octx)
	var cands []candidate
	for id, c := range view.jobs {
		if _, held := view.claims[id]; !held {
			cands = append(cands, c)
		}
	}
	i, _ := pick(m.opts.Name, capa, 0, cands)
	if i < 0 {
		return false
	}
	// The busier a member, the longer it lets others try first: members
	// that saw the same job at once do not all go to the fastest one.
	select {
	case <-ctx.Done():
		return false
	case <-time.After(claimDelay(capa)):
	}
	return m.claim(octx, cands[i], lease)
}

func (m *Member) claim(ctx context.Context, c candidate, lease clientv3.LeaseID) bool {
	reason := "claimed by " + m.opts.Name
	if c.job.State == StateRunning && c.job.Member != "" {
		if c.job.Member == m.opts.Name {
			reason = "taken back by " + m.opts.Name + " after its lease expired"
		} else {
			reason = fmt.Sprintf("placed again on %s: member %s's lease expired", m.opts.Name, c.job.Member)
		}
	}
	rev, job, won, err := m.st.claim(ctx, c, m.opts.Name, lease, reason)
	if err != nil {
		m.setErr(err)
		return false
	}
	if !won {
		return false
	}
	o := &ownedJob{ClaimRev: rev, Lease: int64(lease), verified: true}
	// Persist before acting: after a crash this member must know the job
	// is a fleet job before its conductor starts any sheet of it.
	if err := m.disk.saveOwned(job.ID, *o); err != nil {
		m.opts.Log.Error("cannot keep a fleet claim; giving it back", "job", job.ID, "err", err)
		m.st.finish(ctx, job.ID, rev, doneRecord{ID: job.ID, State: "failed", Member: m.opts.Name, Reason: err.Error(), Finished: time.Now().UTC()})
		return false
	}
	m.mu.Lock()
	m.owned[job.ID] = o
	delete(m.lost, job.ID)
	m.mu.Unlock()
	m.opts.Log.Info("fleet job claimed", "job", job.ID, "reason", reason, "claim_rev", rev)
	b, err := m.st.bundle(ctx, job.ID)
	if err != nil {
		// etcd failed us, not the job: give the claim back for a later round.
		m.opts.Log.Warn("cannot read a claimed fleet job; giving the claim back", "job", job.ID, "err", err)
		m.release(ctx, job.ID, rev)
		return false
	}
	job.Bundle = b
	if err := m.opts.Local.Submit(ctx, job); err != nil {
		m.opts.Log.Warn("fleet job refused here", "job", job.ID, "err", err)
		m.end(ctx, job.ID, o, "failed", "refused by "+m.opts.Name+": "+err.Error())
		return true
	}
	m.opts.Local.Event(job.ID, reason)
	return true
}

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
		state, found, err := m.opts.Local.JobState(ctx, id)
		if err != nil || !found {
			continue
		}
		switch state {
		case "completed", "failed", "cancelled":
			m.end(ctx, id, &o, state, "")
		}
	}
	if confirmed {
		m.opts.Local.FenceChanged()
	}
}

// release gives a claim back: the job is claimable again (by anyone).
func (m *Member) release(ctx context.Context, id string, rev int64) {
	if _, err := m.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(claimKey(id)), "=", rev)).
		Then(clientv3.OpDelete(claimKey(id))).Commit(); err != nil {
		m.opts.Log.Warn("cannot give a fleet claim back; it ends with this member's lease", "job", id, "err", err)
	}
	m.mu.Lock()
	delete(m.owned, id)
	m.mu.Unlock()
	if err := m.disk.dropOwned(id); err != nil {
		m.opts.Log.Warn("fleet", "err", err)
	}
}

func (m *Member) end(ctx context.Context, id string, o *ownedJob, state, reason string) {
	ok, err := m.st.finish(ctx, id, o.ClaimRev, doneRecord{ID: id, State: state, Member: m.opts.Name, Reason: reason, Finished: time.Now().UTC()})
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
	return o.verified && int64(m.lease) == o.Lease && time.Now().Before(m.validUntil) && m.reachable
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
	case !m.reachable:
		return "fleet: etcd is unreachable, so this member cannot confirm its claim on the job"
	case !o.verified || int64(m.lease) != o.Lease:
		return "fleet: this member's claim on the job is not confirmed yet"
	default:
		return "fleet: this member's lease is not confirmed"
	}
}

// publish writes this member's capacity when it changed, at most once per
// publish interval.
func (m *Member) publish(ctx context.Context, lease clientv3.LeaseID, c Capacity) {
	m.mu.Lock()
	info := MemberInfo{Name: m.opts.Name, Address: m.opts.Address, Version: m.opts.Version, PID: m.opts.PID,
		FreeJobs: c.FreeJobs, FreeSheets: c.FreeSheets, Pressure: c.Pressure, RunningJobs: c.RunningJobs,
		RunningSheets: c.RunningSheets, Instruments: c.Instruments, OwnedJobs: int64(len(m.owned)), Updated: time.Now().UTC()}
	due := time.Since(m.pubAt) >= m.opts.PublishInterval && !sameCapacity(info, m.published)
	m.mu.Unlock()
	if !due {
		return
	}
	if err := m.st.register(ctx, info, lease); err != nil {
		m.setErr(err)
		return
	}
	m.mu.Lock()
	m.published, m.pubAt = info, time.Now()
	m.mu.Unlock()
}

// maxSharedLimit bounds how long another member's limit holds sheets here.
const maxSharedLimit = 24 * time.Hour

// RateLimitSeen shares a rate limit this conductor hit (never blocks).
func (m *Member) RateLimitSeen(instrument string, until time.Time) {
	select {
	case m.limitsOut <- Limit{Instrument: instrument, Until: until, Member: m.opts.Name}:
	default:
		m.opts.Log.Warn("fleet: too many rate limits to share at once; dropped one", "instrument", instrument)
	}
}

func (m *Member) publishLimit(ctx context.Context, l Limit) {
	l.Account = l.Instrument
	if m.opts.Account != nil {
		l.Account = m.opts.Account(l.Instrument)
	}
	octx, cancel := context.WithTimeout(ctx, m.opTimeout())
	defer cancel()
	if err := m.st.publishLimit(octx, l); err != nil {
		m.opts.Log.Warn("cannot share a rate limit with the fleet", "account", l.Account, "err", err)
		return
	}
	m.mu.Lock()
	m.limits[l.Account+"\x00"+l.Member] = l.Until
	m.mu.Unlock()
}

// applyLimits hands this conductor the limits other members saw.
func (m *Member) applyLimits(ctx context.Context) {
	ls, err := m.st.limits(ctx)
	if err != nil {
		return
	}
	for _, l := range ls {
		if l.Member == m.opts.Name || !l.Until.After(time.Now()) {
			continue
		}
		// A member's word holds sheets here: never for longer than a day
		// (a usage window), whatever a broken member wrote.
		if cap := time.Now().Add(maxSharedLimit); l.Until.After(cap) {
			l.Until = cap
		}
		k := l.Account + "\x00" + l.Member
		m.mu.Lock()
		seen := !l.Until.After(m.limits[k])
		if !seen {
			m.limits[k] = l.Until
		}
		m.mu.Unlock()
		if !seen {
			m.opts.Log.Info("fleet: a member's rate limit holds this account here too", "account", l.Account,
				"member", l.Member, "until", l.Until)
			m.opts.Local.ApplyLimit(l)
		}
	}
}
