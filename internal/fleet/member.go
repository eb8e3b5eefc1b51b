package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mzt-dev/mzt/messages"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Local is the conductor a member runs fleet jobs on.
type Local interface {
	// Capacity is what the conductor can take on now.
	Capacity(ctx context.Context) (Capacity, error)
	// Submit runs a claimed job here under its own id.
	Submit(ctx context.Context, j Job) error
	// JobState is the local job's state and what its tries reported
	// spending; found is false when it has none.
	JobState(ctx context.Context, id string) (state string, costUSD float64, found bool, err error)
	// Abandon stops a job this member no longer owns, killing its tries.
	Abandon(ctx context.Context, id, reason string) error
	// Event records a fleet event in the job's history.
	Event(id, detail string)
	// ApplyLimit holds this conductor's sheets of the limit's account.
	ApplyLimit(l Limit)
	// FenceChanged: ownership was confirmed; sheets held by the fence may start.
	FenceChanged()
	// Fence stops the running tries of these fleet jobs (SIGTERM to their
	// groups, SIGKILL after a grace) without using an attempt, and holds
	// their sheets until FenceChanged: this member's lease may end soon.
	// It must not block; asking again for a stopped job does nothing.
	Fence(jobIDs []string, reason string)
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
	// MemberTLS is the client side of mutual TLS towards other members'
	// Conductor service, to fetch bundles too large for etcd (nil: no
	// certificate; such jobs of other members are not claimed here).
	MemberTLS func() (*tls.Config, error)
	Log       *slog.Logger
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
	validUntil time.Time // the lease is known alive until then (renewed here)
	reachable  bool
	acked      time.Time // the last renewal's send time, also one a previous run kept (partition.go)
	noLeader   time.Time // the last probe an etcd node answered "no leader"
	fencedAt   time.Time // when this member stopped its fleet tries; zero: not fenced
	lastErr    string
	owned      map[string]*ownedJob
	lost       map[string]bool // jobs abandoned here: never started again without a new claim
	limits     map[string]time.Time
	published  MemberInfo
	pubAt      time.Time
	spend      spendState
	done       clientv3.LeaseID // the lease job ends are kept under (ownership.go)
	doneAt     time.Time

	// fetchHeld: jobs whose bundle could not be fetched, left alone until
	// then (bundles.go).
	fetchHeld map[string]time.Time

	kick chan struct{}
	// renewed closes once the first renewal at start has been tried (see
	// fenceLoop): a restart that found no renewal time on disk waits for it.
	renewed     chan struct{}
	renewedOnce sync.Once
	limitsOut   chan Limit
	life        context.Context // ends when the member stops
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	stopOnce    sync.Once
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
		renewed: make(chan struct{}),
		life:    context.Background(),
		lastErr: "not connected yet"}
	m.lease = clientv3.LeaseID(d.loadLease())
	if m.lease != 0 {
		// A restart keeps running its predecessor's tries until the fence
		// falls, counted from the renewal that predecessor last saw.
		m.acked = d.loadAck(int64(m.lease))
	}
	return m, nil
}

// Start runs the member's loops on this conductor.
func (m *Member) Start(local Local) {
	m.opts.Local = local
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.life = cancel, ctx
	m.goSafe("lease", func() { m.leaseLoop(ctx) })
	m.goSafe("claims", func() { m.claimLoop(ctx) })
	m.goSafe("watch", func() { m.watchLoop(ctx) })
	m.goSafe("fence", func() { m.fenceLoop(ctx) })
	m.goSafe("probe", func() { m.probeLoop(ctx) })
}

// Stop ends the loops and closes the etcd client (see leave for the lease).
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
	m.sweepBlobs(view)
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
		if _, held := view.claims[id]; !held && m.canFetch(c.job) {
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
		m.st.finish(ctx, job.ID, rev, doneRecord{ID: job.ID, State: "failed", Member: m.opts.Name, Reason: err.Error(),
			Finished: time.Now().UTC()}, m.doneLease(ctx))
		return false
	}
	m.mu.Lock()
	m.owned[job.ID] = o
	delete(m.lost, job.ID)
	m.mu.Unlock()
	m.opts.Log.Info("fleet job claimed", "job", job.ID, "reason", reason, "claim_rev", rev)
	b, err := m.claimedBundle(ctx, job.ID)
	if errors.Is(err, ErrBadBundle) || errors.Is(err, ErrBlobNotFound) {
		// Its bundle is wrong or gone where it is kept: no member can run it.
		m.opts.Log.Warn("fleet job refused: its bundle", "job", job.ID, "err", err)
		m.end(ctx, job.ID, o, "failed", "refused by "+m.opts.Name+": "+err.Error())
		return true
	}
	if err != nil {
		// etcd or the member that keeps the bundle failed us, not the job:
		// give the claim back for a later round.
		m.opts.Log.Warn("cannot read a claimed fleet job; giving the claim back", "job", job.ID, "err", err)
		m.release(ctx, job, rev, "cannot read its score: "+err.Error())
		return false
	}
	job.Bundle = b
	if err := m.opts.Local.Submit(ctx, job); err != nil {
		var me *messages.Error
		if errors.As(err, &me) && me.GetCode() == messages.ErrorCode_ERROR_CODE_INVALID_SCORE {
			// Wrong wherever it goes: the job ends here, saying why.
			m.opts.Log.Warn("fleet job refused: invalid score", "job", job.ID, "err", err)
			m.end(ctx, job.ID, o, "failed", "refused by "+m.opts.Name+": "+err.Error())
			return true
		}
		// This conductor cannot take it now (draining, pressure, its disk):
		// another member, or this one later, may.
		m.opts.Log.Warn("fleet job refused here; giving the claim back", "job", job.ID, "err", err)
		m.release(ctx, job, rev, err.Error())
		return false
	}
	m.opts.Local.Event(job.ID, reason)
	return true
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
