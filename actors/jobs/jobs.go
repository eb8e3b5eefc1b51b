// Package jobs is the job manager: admission, the queue, the conductor-wide
// sheet slots (max_concurrent_sheets, each instrument's max_concurrent, rate
// limits, pressure) and one child actor per active job, which drives that
// job's DAG. Durable state lives in the store; after a restart this actor
// rebuilds from it.
package jobs

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

// Deps wire the jobs actor to its siblings.
type Deps struct {
	Config  *config.Config
	Paths   config.Paths
	Store   *actor.PID
	Tracker *reaper.Tracker
	// Correlation is told when tries finish; Stats are its latest numbers.
	Correlation *actor.PID
	Stats       *correlation.Table
	Cgroups     *cgroup.Tree // nil where cgroup v2 cannot be used
	DB          *store.DB    // for recovery after a restart of this actor
	Log         *slog.Logger
	// Recovered is what the daemon loaded before the tree started: Props
	// hands it to the first incarnation only; a restart reloads from the store.
	Recovered []Prepared
	// Supervisor forks tries so they outlive this conductor; nil: none.
	Supervisor *supervisor.Client
	// Handover closes when the conductor leaves its running tries to the
	// next one: they are neither waited for nor stopped any more.
	Handover <-chan struct{}
	// Fleet is this conductor's fleet membership; nil: none (fleet.go).
	Fleet Fleet
	// runner replaces real processes in benchmarks and tests.
	runner attemptRunner
}

type entry struct {
	pid      *actor.PID
	runKey   string
	info     *messages.JobInfo
	running  int
	admitted bool
	seq      int64
	queue    queueControls
	// final is set once the job finished: the manager answers from it until
	// the store confirms the final write, then forgets the entry.
	final  *messages.JobStatus
	plan   *logPlan
	infoAt time.Time // when info arrived (ETAs count down from there)
	// durable is set when the store acknowledged the final write before
	// the job's last update arrived (the two come from different actors).
	durable bool
	// parked are control requests that wait for the final write.
	parked []parkedControl
}

type parkedControl struct {
	req    *messages.JobControlRequest
	sender *actor.PID
}

// Actor is the job manager.
type Actor struct {
	deps Deps
	cfg  *config.Config
	log  *slog.Logger
	// recovered holds the daemon's recovered runs in the first incarnation;
	// restarted marks every later one.
	recovered []Prepared
	restarted bool
	held      fenceHeld // sheets of fleet jobs the fence holds back (fleet.go)

	jobs     map[string]*entry
	reserved map[string]bool // ids being submitted (parsed, not yet stored)
	seq      int64
	loading  bool

	slots     *slots
	running   map[slotKey]*RunningSheet // tries whose process runs, for the profiler and top
	pressNote string
	timer     *mailbox.Timer            // the next grant round (a rate-limit window or start gap ends)
	preempted map[slotKey][]preemptMark // recent preemptions per sheet, for damping

	daily dailySpend // what today's tries reported spending ([budget] daily_usd)

	draining   bool
	drainTo    *actor.PID
	drainTimer *mailbox.Timer

	prep  *runPrep   // makes run folders ahead of their first try
	queue queueState // groups, and outcomes queued jobs wait for
	prune pruneState // finished jobs since history was last pruned
}

// Props builds the job manager. Job actors below it are never restarted.
func Props(deps Deps) *actor.Props {
	recovered, first := deps.Recovered, true
	deps.Recovered = nil
	// Incarnations are made one after another (spawn, then each restart).
	var mu sync.Mutex
	produce := func() actor.Actor {
		mu.Lock()
		defer mu.Unlock()
		a := &Actor{deps: deps, cfg: deps.Config, log: deps.Log, recovered: recovered, restarted: !first}
		recovered, first = nil, false
		return a
	}
	return actor.PropsFromProducer(produce,
		actor.WithSupervisor(actor.NewOneForOneStrategy(0, time.Second, func(reason any) actor.Directive {
			deps.Log.Error("job actor failed; the job is marked failed", "reason", reason)
			return actor.StopDirective
		})))
}

type (
	parsed struct {
		req    *messages.SubmitJobRequest
		sender *actor.PID
		prep   Prepared
		err    error
		rerun  *rerun // a re-run's plan; nil for a plain run
		// depStates are the stored statuses of the jobs it runs after.
		depStates map[string]messages.JobState
	}
	inserted struct {
		prep   Prepared
		sender *actor.PID
		rerun  *rerun
	}
	recovered struct {
		runs []Prepared
		err  error
	}
	tick          struct{}
	drainDeadline struct{}
)

// Receive routes each message to its part: admission (admission.go),
// questions about jobs (query.go), sheet slots (grants.go), the profiler's
// relay (profile.go) and shutdown (drain.go).
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.jobs, a.reserved = map[string]*entry{}, map[string]bool{}
		a.slots = newSlots(a.cfg.MaxConcurrentSheets)
		a.running = map[slotKey]*RunningSheet{}
		a.prep = startRunPrep(a.log)
		a.start(ctx)
		a.loadSpent(ctx)
	case *actor.Stopping, *actor.Restarting:
		a.timer.Stop()
		a.drainTimer.Stop()
		a.prep.stop() // a job actor that asks later is not prepared for: harmless
	case *recovered:
		a.onRecovered(ctx, m)
	case *queueLoaded:
		a.onQueueLoaded(ctx, m)
	case *messages.GroupRequest:
		a.onGroupRequest(ctx, m)
	case *jobUpdate:
		a.onJobUpdate(ctx, m)
	case *actor.Terminated:
		a.onJobTerminated(ctx, m)
	case *Reconfigure:
		a.reconfigure(ctx, m)

	case *messages.SubmitJobRequest:
		a.submit(ctx, m)
	case *parsed:
		a.onParsed(ctx, m)
	case *store.WriteDone:
		a.onWriteDone(ctx, m)

	case *CountsRequest:
		ctx.Respond(a.counts())
	case *messages.CleanRequest:
		a.clean(ctx, m)
	case *SpendTodayRequest:
		a.askSpendToday(ctx)
	case *spent:
		a.onSpent(ctx, m)
	case *messages.JobStatusRequest:
		a.jobStatus(ctx, m)
	case *messages.ListJobsRequest:
		a.list(ctx, m)
	case *messages.JobControlRequest:
		a.control(ctx, m)
	case *logPlanRequest:
		a.logPlan(ctx, m)

	case *slotRequest:
		if a.dailyBlocks(ctx, m) || a.fenced(ctx, m) {
			return
		}
		a.slots.request(m)
		a.grant(ctx)
	case *slotRelease:
		a.onSlotRelease(ctx, m)
	case *slotAdopted:
		a.slots.adopt(m)
	case *slotCancel:
		delete(a.held, m.jobID)
		a.slots.cancel(m.jobID)
		a.daily.dropHeld(m.jobID)
	case *rateLimitHit:
		a.onRateLimitHit(ctx, m)
	case *SharedRateLimit:
		a.onSharedRateLimit(ctx, m)
	case *FenceChanged:
		a.onFenceChanged(ctx)
	case *FleetFence:
		a.onFleetFence(ctx, m)
	case *FleetSpend:
		a.onFleetSpend(ctx, m)
	case *tick:
		a.grant(ctx)
	case *monitor.PressureChanged:
		a.onPressure(ctx, m)

	case *sheetRunning:
		a.onSheetRunning(m)
	case *ProfileUpdate:
		a.onProfileUpdate(ctx, m)
	case *RunningSheetsRequest:
		ctx.Respond(a.runningSheets())
	case *TopRequest:
		ctx.Respond(a.top())

	case *Drain:
		a.drain(ctx, m)
	case *drainDeadline:
		a.log.Warn("shutdown_timeout reached: interrupting running sheets")
		a.broadcast(ctx, &interrupt{reason: "shutdown"})
	}
}

func (a *Actor) reconfigure(ctx actor.Context, m *Reconfigure) {
	a.cfg = m.Config
	a.slots.maxSheets = a.cfg.MaxConcurrentSheets
	// Running jobs take the new stall defaults for their next tries.
	a.broadcast(ctx, &reconfigured{stallAfter: time.Duration(a.cfg.Profiler.StallAfter),
		onStall: a.cfg.Profiler.OnStall, maxSheets: a.cfg.MaxConcurrentSheets})
	a.admitNext(ctx)
	a.grant(ctx)
}

// onJobUpdate keeps a job's summary; a finished job gives its slot in the
// queue to the next one and goes once its final state is durable.
func (a *Actor) onJobUpdate(ctx actor.Context, m *jobUpdate) {
	if e := a.jobs[m.info.GetId()]; e != nil && e.final == nil {
		e.info, e.running, e.infoAt = m.info, m.running, time.Now()
		if m.finished {
			if a.deps.Correlation != nil {
				ctx.Send(a.deps.Correlation, &correlation.Changed{})
			}
			e.final, e.plan = m.final, m.plan
			a.noteOutcome(m.info.GetId(), m.info.State())
			ctx.Poison(e.pid)
			a.forgetIfDone(ctx, m.info.GetId(), e)
			a.admitNext(ctx)
			a.grant(ctx)
		}
	}
	a.checkDrained(ctx)
}

func (a *Actor) onWriteDone(ctx actor.Context, m *store.WriteDone) {
	switch tag := m.Tag.(type) {
	case *cleaned:
		a.onCleaned(ctx, tag, m.Err)
	case *inserted:
		a.onInserted(ctx, tag, m)
	case *groupWritten:
		a.onGroupWritten(ctx, tag, m)
	case *finalWrite:
		// Only the run this write finished: a newer run may have taken the id.
		e := a.jobs[tag.jobID]
		switch {
		case e == nil || e.runKey != tag.runKey:
		case m.Err != nil:
			// Not durable: the manager keeps answering from the snapshot.
			for _, p := range e.parked {
				if p.sender == nil {
					continue
				}
				ctx.Send(p.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "",
					"job %s: its final state could not be recorded: %v", tag.jobID, m.Err))
			}
			e.parked = nil
		default:
			e.durable = true
			a.forgetIfDone(ctx, tag.jobID, e)
		}
		if tag.hooks && m.Err == nil {
			ctx.ActorSystem().EventStream.Publish(&store.HooksDue{})
		}
		a.jobFinished(ctx)
	}
}

// forgetIfDone drops the entry of a job that finished once its final state
// is durable, in whichever order the two were learnt; from then on the
// store answers for it.
func (a *Actor) forgetIfDone(ctx actor.Context, id string, e *entry) {
	if e.final != nil && e.durable && a.jobs[id] == e {
		delete(a.jobs, id)
		for _, p := range e.parked {
			ctx.RequestWithCustomSender(ctx.Self(), p.req, p.sender)
		}
	}
}

func (a *Actor) settings() jobSettings {
	return jobSettings{killGrace: time.Duration(a.cfg.KillGrace), baseEnv: baseEnv(), runner: a.deps.runner,
		tracker: a.deps.Tracker, cgroups: a.deps.Cgroups, sup: a.deps.Supervisor, handover: a.deps.Handover,
		stallAfter: time.Duration(a.cfg.Profiler.StallAfter), onStall: a.cfg.Profiler.OnStall,
		stats: a.deps.Stats, maxSheets: a.cfg.MaxConcurrentSheets, logCap: int64(a.cfg.MaxLogMB) << 20,
		hooks: a.cfg.Hooks, orphanAfter: orphanDeadlineOf(a.deps.Fleet), prep: a.prep}
}

func (a *Actor) counts() *Counts {
	c := &Counts{Accepting: !a.draining && a.slots.pressure < monitor.High && !a.loading, Draining: a.draining}
	for _, e := range a.jobs {
		switch e.info.State() {
		case messages.JobRunning:
			c.RunningJobs++
		case messages.JobQueued:
			c.QueuedJobs++
		}
		c.RunningSheets += e.running
	}
	return c
}

func (a *Actor) broadcast(ctx actor.Context, msg any) {
	for _, e := range a.jobs {
		ctx.Send(e.pid, msg)
	}
}

func (a *Actor) onJobTerminated(ctx actor.Context, m *actor.Terminated) {
	for id, e := range a.jobs {
		if !e.pid.Equal(m.GetWho()) {
			continue
		}
		if e.final != nil {
			break // finished normally; the entry goes when its final write is durable
		}
		delete(a.jobs, id)
		for k := range a.running {
			if k.jobID == id {
				delete(a.running, k)
			}
		}
		a.slots.releaseJob(id)
		switch e.info.State() {
		case messages.JobCompleted, messages.JobFailed, messages.JobCancelled:
		default:
			if !a.draining && !isClosed(a.deps.Handover) {
				a.log.Error("job actor stopped unexpectedly; job marked failed", "job", id)
				ctx.Send(a.deps.Store, &store.Write{Op: &store.MarkFailed{JobID: id, Run: int(e.info.GetRun()),
					Reason: "internal error: the job's actor failed (see the conductor log)"}})
			}
		}
		break
	}
	a.admitNext(ctx)
	a.grant(ctx)
	a.checkDrained(ctx)
}
