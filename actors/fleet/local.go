package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/internal/fleet"
	"github.com/mzt-dev/mzt/messages"
)

// local is this conductor as the fleet member sees it: every call asks an
// actor with a bounded request, from the member's own goroutines.
type local struct {
	system  *actor.ActorSystem
	jobs    *actor.PID
	monitor *actor.PID
	cfg     *config.Config
	paths   config.Paths
	timeout time.Duration
	accts   *accounts
}

var _ fleet.Local = (*local)(nil)

func (l *local) ask(pid *actor.PID, msg any) (any, error) {
	res, err := l.system.Root.RequestFuture(pid, msg, l.timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("ask %s: %w", pid.GetId(), err)
	}
	if e, ok := res.(*messages.Error); ok {
		return nil, e
	}
	return res, nil
}

func (l *local) Capacity(ctx context.Context) (fleet.Capacity, error) {
	res, err := l.ask(l.jobs, &jobs.CountsRequest{})
	if err != nil {
		return fleet.Capacity{}, err
	}
	counts := res.(*jobs.Counts)
	res, err = l.ask(l.monitor, &monitor.SnapshotRequest{})
	if err != nil {
		return fleet.Capacity{}, err
	}
	snap := res.(monitor.Snapshot)
	c := fleet.Capacity{
		FreeJobs:      int64(l.cfg.MaxConcurrentJobs - counts.RunningJobs - counts.QueuedJobs),
		FreeSheets:    int64(l.cfg.MaxConcurrentSheets - counts.RunningSheets),
		RunningJobs:   int64(counts.RunningJobs),
		RunningSheets: int64(counts.RunningSheets),
		Pressure:      snap.Pressure.String(),
		PressureHigh:  snap.Pressure >= monitor.High || !counts.Accepting || counts.Draining,
		Instruments:   map[string]int64{},
	}
	c.FreeJobs, c.FreeSheets = max(c.FreeJobs, 0), max(c.FreeSheets, 0)
	for name, p := range l.accts.profiles() {
		if _, err := p.LookPath(); err != nil {
			continue // a missing executable: jobs that need it are not claimed here
		}
		free := c.FreeSheets
		if p.MaxConcurrent > 0 {
			free = min(free, int64(p.MaxConcurrent))
		}
		c.Instruments[name] = free
	}
	return c, nil
}

func (l *local) Submit(ctx context.Context, j fleet.Job) error {
	req := &messages.SubmitJobRequest{ScorePath: j.Score, ScoreSource: j.Source, JobId: j.ID, Priority: j.Priority,
		FleetPriorCostUsd: j.PriorUSD}
	for _, f := range j.Files {
		req.Files = append(req.Files, &messages.ScoreFile{Path: f.Path, Content: f.Content})
	}
	dir, err := gateway.MaterializeScore(l.paths.Home, "fleet-"+j.SubmittedBy, req)
	if err != nil {
		return err
	}
	_, err = l.ask(l.jobs, req)
	var me *messages.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me) && me.GetCode() == messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE:
		os.RemoveAll(dir) // its own run goes on (this member took its job back)
		return nil
	default:
		os.RemoveAll(dir)
		return err
	}
}

func (l *local) JobState(ctx context.Context, id string) (string, float64, bool, error) {
	res, err := l.ask(l.jobs, &messages.JobStatusRequest{JobId: id})
	var me *messages.Error
	if errors.As(err, &me) && me.GetCode() == messages.ErrorCode_ERROR_CODE_NOT_FOUND {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	job := res.(*messages.JobStatus).GetJob()
	return string(job.State()), job.GetCostUsd(), true, nil
}

func (l *local) Abandon(ctx context.Context, id, reason string) error {
	l.Event(id, reason)
	_, err := l.ask(l.jobs, &messages.JobControlRequest{JobId: id, Action: messages.JobAction_JOB_ACTION_CANCEL})
	var me *messages.Error
	if errors.As(err, &me) && (me.GetCode() == messages.ErrorCode_ERROR_CODE_NOT_FOUND || me.GetCode() == messages.ErrorCode_ERROR_CODE_INVALID_STATE) {
		return nil // never ran here, or already ended
	}
	return err
}

// EventFleet is the kind of a job's fleet events (placed, placed again, abandoned).
const EventFleet = "fleet"

func (l *local) Event(id, detail string) {
	l.system.EventStream.Publish(&messages.Event{Kind: EventFleet, JobId: id, Detail: detail,
		TimeUnixNano: time.Now().UnixNano()})
}

func (l *local) ApplyLimit(lim fleet.Limit) {
	for _, inst := range l.accts.instruments(lim.Account) {
		l.system.Root.Send(l.jobs, &jobs.SharedRateLimit{Instrument: inst, Until: lim.Until, Member: lim.Member})
	}
}

func (l *local) FenceChanged() { l.system.Root.Send(l.jobs, &jobs.FenceChanged{}) }

func (l *local) Fence(ids []string, reason string) {
	l.system.Root.Send(l.jobs, &jobs.FleetFence{JobIDs: ids, Reason: reason})
}

// accounts maps instruments to the accounts whose rate limits they share,
// from the instrument profiles (read again at most every few seconds).
type accounts struct {
	dir    string
	mu     sync.Mutex
	loaded time.Time
	cache  map[string]*instrument.Profile
}

func newAccounts(dir string) *accounts { return &accounts{dir: dir} }

func (a *accounts) profiles() map[string]*instrument.Profile {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cache == nil || time.Since(a.loaded) > 5*time.Second {
		ps, _ := instrument.Load(a.dir) // the valid ones come back even when some file is bad
		if ps != nil {
			a.cache, a.loaded = ps, time.Now()
		}
	}
	return a.cache
}

func (a *accounts) account(inst string) string {
	if p, ok := a.profiles()[inst]; ok {
		return p.AccountKey()
	}
	return inst
}

func (a *accounts) instruments(account string) []string {
	var out []string
	for name, p := range a.profiles() {
		if p.AccountKey() == account {
			out = append(out, name)
		}
	}
	return out
}

func (l *local) SpendToday(ctx context.Context) (string, float64, error) {
	now := time.Now()
	res, err := l.ask(l.jobs, &jobs.SpendTodayRequest{})
	if err != nil {
		return "", 0, err
	}
	return now.Local().Format(time.DateOnly), res.(*jobs.SpendToday).LocalUSD, nil
}

func (l *local) ApplyFleetSpend(day string, others float64) {
	l.system.Root.Send(l.jobs, &jobs.FleetSpend{Day: day, OthersUSD: others})
}
