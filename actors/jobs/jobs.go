// Package jobs is the job manager: admission, the queue, the conductor-wide
// sheet slots (max_concurrent_sheets, each instrument's max_concurrent, rate
// limits, pressure) and one child actor per active job, which drives that
// job's DAG. Durable state lives in the store; after a restart this actor
// rebuilds from it.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/messages"
)

// Deps wire the jobs actor to its siblings.
type Deps struct {
	Config  *config.Config
	Paths   config.Paths
	Store   *actor.PID
	Monitor *actor.PID
	Reaper  *actor.PID
	Tracker *reaper.Tracker
	// Correlation is told when tries finish; Stats are its latest numbers.
	Correlation *actor.PID
	Stats       *correlation.Table
	Cgroups     *cgroup.Tree // nil where cgroup v2 cannot be used
	DB          *store.DB    // for recovery after a restart of this actor
	Log         *slog.Logger
	// Recovered is what the daemon loaded before the tree started; the first
	// start takes it, a restart reloads from the store.
	Recovered *[]Prepared
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
	// final is set once the job finished: the manager answers from it until
	// the store confirms the final write, then forgets the entry.
	final  *messages.JobStatus
	plan   *logPlan
	infoAt time.Time // when info arrived (ETAs count down from there)
}

type heldSlot struct {
	instrument string
	grantedAt  time.Time
	job        *actor.PID
}

type slotKey struct {
	jobID string
	num   int
}

// Actor is the job manager.
type Actor struct {
	deps Deps
	cfg  *config.Config
	log  *slog.Logger

	jobs     map[string]*entry
	reserved map[string]bool // ids being submitted (parsed, not yet stored)
	seq      int64
	loading  bool

	waiters   []*slotRequest
	held      map[slotKey]heldSlot
	running   map[slotKey]*RunningSheet // tries whose process runs, for the profiler and top
	perInst   map[string]int
	rateUntil map[string]time.Time
	pressure  monitor.Level
	pressNote string
	lastGrant time.Time
	timer     *time.Timer

	draining   bool
	drainTo    *actor.PID
	drainTimer *time.Timer
}

// Props builds the job manager. Job actors below it are never restarted.
func Props(deps Deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{deps: deps, cfg: deps.Config, log: deps.Log} },
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
	}
	inserted struct {
		prep   Prepared
		sender *actor.PID
	}
	recovered struct {
		runs []Prepared
		err  error
	}
	tick          struct{}
	drainDeadline struct{}
)

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.jobs, a.reserved = map[string]*entry{}, map[string]bool{}
		a.held, a.perInst, a.rateUntil = map[slotKey]heldSlot{}, map[string]int{}, map[string]time.Time{}
		a.running = map[slotKey]*RunningSheet{}
		a.start(ctx)
	case *recovered:
		a.loading = false
		if m.err != nil {
			a.log.Error("reload jobs from the store", "err", m.err)
		}
		for _, p := range m.runs {
			a.adopt(ctx, p)
		}
		a.admitNext(ctx)
	case *actor.Stopping, *actor.Restarting:
		if a.timer != nil {
			a.timer.Stop()
		}
		if a.drainTimer != nil {
			a.drainTimer.Stop()
		}
	case *CountsRequest:
		ctx.Respond(a.counts())
	case *Drain:
		a.drain(ctx, m)
	case *drainDeadline:
		a.log.Warn("shutdown_timeout reached: interrupting running sheets")
		a.broadcast(ctx, &interrupt{reason: "shutdown"})
	case *Reconfigure:
		a.cfg = m.Config
		// Running jobs take the new stall defaults for their next tries.
		a.broadcast(ctx, &reconfigured{stallAfter: time.Duration(a.cfg.Profiler.StallAfter),
			onStall: a.cfg.Profiler.OnStall, maxSheets: a.cfg.MaxConcurrentSheets})
		a.admitNext(ctx)
		a.grant(ctx)
	case *monitor.PressureChanged:
		a.onPressure(ctx, m)
	case *messages.SubmitJobRequest:
		a.submit(ctx, m)
	case *parsed:
		a.onParsed(ctx, m)
	case *store.WriteDone:
		switch tag := m.Tag.(type) {
		case *inserted:
			a.onInserted(ctx, tag, m)
		case *finalWrite:
			// Only the run this write finished: a newer run may have taken the id.
			if e := a.jobs[tag.jobID]; m.Err == nil && e != nil && e.final != nil && e.runKey == tag.runKey {
				delete(a.jobs, tag.jobID)
			}
			a.pruneHistory(ctx)
		}
	case *messages.JobStatusRequest:
		a.jobStatus(ctx, m)
	case *messages.ListJobsRequest:
		a.list(ctx, m)
	case *messages.JobControlRequest:
		a.control(ctx, m)
	case *logPlanRequest:
		a.logPlan(ctx, m)
	case *slotRequest:
		a.waiters = append(a.waiters, m)
		a.grant(ctx)
	case *slotRelease:
		a.release(m.jobID, m.num)
		a.grant(ctx)
		a.checkDrained(ctx)
	case *slotCancel:
		a.cancelWaiters(m.jobID)
	case *rateLimitHit:
		if m.until.After(a.rateUntil[m.instrument]) {
			a.rateUntil[m.instrument] = m.until
			a.log.Warn("instrument rate limited", "instrument", m.instrument, "until", m.until.Format(time.RFC3339))
		}
		a.broadcast(ctx, &rateLimited{instrument: m.instrument, until: a.rateUntil[m.instrument]})
	case *tick:
		a.grant(ctx)
	case *sheetRunning:
		a.onSheetRunning(m)
	case *ProfileUpdate:
		a.onProfileUpdate(ctx, m)
	case *RunningSheetsRequest:
		ctx.Respond(a.runningSheets())
	case *TopRequest:
		ctx.Respond(a.top())
	case *jobUpdate:
		if e := a.jobs[m.info.GetId()]; e != nil && e.final == nil {
			e.info, e.running, e.infoAt = m.info, m.running, time.Now()
			if m.finished {
				if a.deps.Correlation != nil {
					ctx.Send(a.deps.Correlation, &correlation.Changed{})
				}
				e.final, e.plan = m.final, m.plan
				ctx.Poison(e.pid)
				a.admitNext(ctx)
				a.grant(ctx)
			}
		}
		a.checkDrained(ctx)
	case *actor.Terminated:
		a.onJobTerminated(ctx, m)
	}
}

func (a *Actor) settings() jobSettings {
	return jobSettings{killGrace: time.Duration(a.cfg.KillGrace), baseEnv: baseEnv(), runner: a.deps.runner,
		tracker: a.deps.Tracker, cgroups: a.deps.Cgroups,
		stallAfter: time.Duration(a.cfg.Profiler.StallAfter), onStall: a.cfg.Profiler.OnStall,
		stats: a.deps.Stats, maxSheets: a.cfg.MaxConcurrentSheets}
}

func (a *Actor) start(ctx actor.Context) {
	if a.deps.Recovered != nil && *a.deps.Recovered != nil {
		runs := *a.deps.Recovered
		*a.deps.Recovered = nil
		for _, p := range runs {
			a.adopt(ctx, p)
		}
		a.admitNext(ctx)
		return
	}
	if a.deps.DB == nil {
		return
	}
	// Restarted after a failure: our job actors died with us; reload.
	a.loading = true
	self, root, db, paths, grace, log := ctx.Self(), ctx.ActorSystem().Root, a.deps.DB, a.deps.Paths,
		time.Duration(a.cfg.KillGrace), a.log
	go func() {
		runs, err := Recover(context.Background(), db, paths, grace, log)
		root.Send(self, &recovered{runs: runs, err: err})
	}()
}

// adopt spawns the actor of a recovered run (or records it failed when its
// score can no longer be read).
func (a *Actor) adopt(ctx actor.Context, p Prepared) {
	if p.Err != nil {
		job := p.Run.Job
		job.Status, job.Error, job.FinishedAt, job.ScoreSource = JobFailed, p.Err.Error(), time.Now(), nil
		a.log.Error("cannot recover job", "job", job.JobID, "err", p.Err)
		ctx.Send(a.deps.Store, &store.Write{Op: &store.SaveJob{Job: job}})
		return
	}
	a.spawnJob(ctx, p, p.Run.Job.Status == JobRunning || p.Run.Job.Status == JobPaused)
}

func (a *Actor) spawnJob(ctx actor.Context, p Prepared, wantsAdmission bool) {
	j := newJobActor(p, &a.deps, a.settings())
	j.mgr = ctx.Self()
	j.log = a.log.With("job", p.Run.Job.JobID)
	if p.Run.Job.Status == JobPaused {
		j.job.UserPaused = true
	}
	info := j.info() // before the actor runs: afterwards only it may touch j
	name := fmt.Sprintf("job-%s-%d", p.Run.Job.JobID, p.Run.Job.Run)
	pid, err := ctx.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return j }), name)
	if err != nil {
		a.log.Error("spawn job actor", "job", p.Run.Job.JobID, "err", err)
		return
	}
	a.seq++
	// Jobs that were running before a restart go first in the queue.
	seq := a.seq
	if wantsAdmission {
		seq = -1_000_000 + a.seq
	}
	a.jobs[p.Run.Job.JobID] = &entry{pid: pid, runKey: p.Run.Job.RunKey, info: info, seq: seq}
}

// admitNext admits queued jobs while fewer than max_concurrent_jobs run.
func (a *Actor) admitNext(ctx actor.Context) {
	if a.draining {
		return
	}
	running := 0
	var queued []*entry
	for _, e := range a.jobs {
		if e.admitted {
			if e.info.GetStatus() == JobRunning {
				running++
			}
		} else {
			queued = append(queued, e)
		}
	}
	sort.Slice(queued, func(i, k int) bool { return queued[i].seq < queued[k].seq })
	for _, e := range queued {
		// A paused job holds no slot: admit it so that resume works at once.
		if e.info.GetUserPaused() {
			e.admitted = true
			ctx.Send(e.pid, &admit{})
			continue
		}
		if running >= a.cfg.MaxConcurrentJobs {
			continue
		}
		running++
		e.admitted = true
		e.info.Status = JobRunning
		ctx.Send(e.pid, &admit{})
	}
}

func (a *Actor) counts() *Counts {
	c := &Counts{Accepting: !a.draining && a.pressure < monitor.High && !a.loading, Draining: a.draining}
	for _, e := range a.jobs {
		switch e.info.GetStatus() {
		case JobRunning:
			c.RunningJobs++
		case JobQueued:
			c.QueuedJobs++
		}
		c.RunningSheets += e.running
	}
	return c
}

func refused(hint, format string, args ...any) *messages.Error {
	return messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED, hint, format, args...)
}

func (a *Actor) submit(ctx actor.Context, req *messages.SubmitJobRequest) {
	switch {
	case a.draining:
		ctx.Respond(refused("", "the conductor is shutting down and accepts no new jobs"))
		return
	case a.loading:
		ctx.Respond(refused("retry in a moment", "the conductor is reloading its jobs"))
		return
	case a.pressure >= monitor.High:
		why := "resource pressure is " + a.pressure.String()
		if a.pressNote != "" {
			why += ": " + a.pressNote
		}
		ctx.Respond(refused("mzt conductor-status shows memory and process use; retry when pressure falls", "%s", why))
		return
	}
	self, root, sender, dir := ctx.Self(), ctx.ActorSystem().Root, ctx.Sender(), a.deps.Paths.Instruments
	maxSheets := a.cfg.MaxSheetsPerJob
	go func() {
		out := &parsed{req: req, sender: sender}
		defer func() {
			if r := recover(); r != nil {
				out.err = fmt.Errorf("parse score: %v", r)
			}
			root.Send(self, out)
		}()
		sc, profiles, err := score.Read(req.GetScorePath(), req.GetScoreSource(),
			score.ReadOptions{InstrumentsDir: dir, MaxSheets: maxSheets, JobID: req.GetJobId()})
		if err != nil {
			out.err = err
			return
		}
		// Off the mailbox, like the parse; each attempt also recreates it.
		if err := os.MkdirAll(sc.Workspace, 0o755); err != nil {
			out.err = fmt.Errorf("create workspace %s: %w", sc.Workspace, err)
			return
		}
		out.prep = Prepared{Score: sc, Profiles: profiles}
	}()
}

func (a *Actor) onParsed(ctx actor.Context, m *parsed) {
	if m.err != nil {
		ctx.Send(m.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "mzt validate SCORE", "%v", m.err))
		return
	}
	sc := m.prep.Score
	if a.live(sc.ID) != nil || a.reserved[sc.ID] {
		ctx.Send(m.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE,
			"mzt cancel "+sc.ID+", or run it under another id with --id", "job %s is already active", sc.ID))
		return
	}
	now := time.Now()
	job := store.JobRow{
		RunKey: sc.ID + "." + strconv.FormatInt(now.UnixNano(), 36), JobID: sc.ID, Name: sc.Name, Status: JobQueued,
		ScorePath: sc.Path, ScoreSource: sc.Source, Workspace: sc.Workspace, CreatedAt: now,
		SheetsTotal: sc.TotalSheets(),
	}
	var rows []store.SheetRow
	for _, sh := range sc.Sheets() {
		rows = append(rows, newSheetRow(job.RunKey, sh, m.prep.Profiles))
	}
	a.reserved[sc.ID] = true
	op := &store.InsertRun{Job: job, Sheets: rows}
	ctx.Send(a.deps.Store, &store.Write{Op: op, ReplyTo: ctx.Self(),
		Tag: &inserted{prep: Prepared{Run: store.Run{Job: job, Sheets: rows}, Score: sc, Profiles: m.prep.Profiles}, sender: m.sender}})
}

func (a *Actor) onInserted(ctx actor.Context, in *inserted, done *store.WriteDone) {
	id := in.prep.Score.ID
	delete(a.reserved, id)
	if done.Err != nil {
		ctx.Send(in.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "check free disk space under "+a.deps.Paths.Home,
			"job %s was not submitted: the state database could not be written: %v", id, done.Err))
		return
	}
	in.prep.Run.Job.Run = done.Op.(*store.InsertRun).Job.Run
	a.spawnJob(ctx, in.prep, false)
	a.log.Info("job submitted", "job", id, "run", in.prep.Run.Job.Run, "sheets", in.prep.Run.Job.SheetsTotal)
	a.admitNext(ctx)
	ctx.Send(in.sender, &messages.SubmitJobResponse{JobId: id, Status: a.jobs[id].info.GetStatus(),
		SheetsTotal: int64(in.prep.Run.Job.SheetsTotal)})
	a.pruneHistory(ctx)
}

func (a *Actor) pruneHistory(ctx actor.Context) {
	ctx.Send(a.deps.Store, &store.Write{Op: &store.PruneHistory{Keep: a.cfg.MaxHistory}})
}

func notFound(id string) *messages.Error {
	return messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt list --all", "job %s not found", id)
}

// fromStore answers a request about a job that is not active by reading its
// latest run, without blocking this mailbox.
func (a *Actor) fromStore(ctx actor.Context, jobID string, answer func(run store.Run) any) {
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		run, ok, err := db.LatestRun(qctx, jobID)
		if !ok && err == nil {
			return nil, nil
		}
		return run, err
	}}, 10*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		qr, _ := res.(*store.QueryResult)
		switch {
		case err != nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "read job %s: %v", jobID, err))
		case qr.Err != nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read job %s: %v", jobID, qr.Err))
		case qr.Value == nil:
			ctx.Respond(notFound(jobID))
		default:
			ctx.Respond(answer(qr.Value.(store.Run)))
		}
	})
}

// live returns the entry of a job whose actor still drives it.
func (a *Actor) live(id string) *entry {
	if e := a.jobs[id]; e != nil && e.final == nil {
		return e
	}
	return nil
}

func (a *Actor) jobStatus(ctx actor.Context, m *messages.JobStatusRequest) {
	if e := a.jobs[m.GetJobId()]; e != nil {
		if e.final != nil {
			ctx.Respond(e.final)
			return
		}
		ctx.Forward(e.pid)
		return
	}
	a.fromStore(ctx, m.GetJobId(), func(run store.Run) any {
		return &messages.JobStatus{Job: jobInfo(run.Job, run.Sheets), Sheets: sheetInfos(run.Sheets)}
	})
}

func (a *Actor) logPlan(ctx actor.Context, m *logPlanRequest) {
	if e := a.jobs[m.jobID]; e != nil {
		if e.final != nil {
			ctx.Respond(e.plan)
			return
		}
		ctx.Forward(e.pid)
		return
	}
	dir := a.deps.Paths.SheetLogs
	a.fromStore(ctx, m.jobID, func(run store.Run) any {
		return newLogPlan(filepath.Join(dir, run.Job.RunKey), run.Job, run.Sheets)
	})
}

func (a *Actor) list(ctx actor.Context, m *messages.ListJobsRequest) {
	active := make([]*messages.JobInfo, 0, len(a.jobs))
	ids := map[string]bool{}
	for id, e := range a.jobs {
		active = append(active, e.info)
		ids[id] = true
	}
	if !m.GetAll() {
		sortJobs(active)
		ctx.Respond(&messages.JobList{Jobs: active})
		return
	}
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		rows, counts, err := db.FinishedJobs(qctx, ids)
		if err != nil {
			return nil, err
		}
		out := make([]*messages.JobInfo, 0, len(rows))
		for _, r := range rows {
			info := jobInfo(r, nil)
			c := counts[r.RunKey]
			info.SheetsCompleted, info.SheetsFailed = int64(c[SheetCompleted]), int64(c[SheetFailed])
			out = append(out, info)
		}
		return out, nil
	}}, 30*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		qr, _ := res.(*store.QueryResult)
		if err == nil && qr.Err != nil {
			err = qr.Err
		}
		if err != nil {
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "list jobs: %v", err))
			return
		}
		all := append(active, qr.Value.([]*messages.JobInfo)...)
		sortJobs(all)
		ctx.Respond(&messages.JobList{Jobs: all})
	})
}

func sortJobs(jobs []*messages.JobInfo) {
	sort.SliceStable(jobs, func(i, k int) bool {
		return jobs[i].GetCreatedAtUnixNano() < jobs[k].GetCreatedAtUnixNano()
	})
}

func (a *Actor) control(ctx actor.Context, m *messages.JobControlRequest) {
	id := m.GetJobId()
	if e := a.live(id); e != nil {
		ctx.Forward(e.pid)
		return
	}
	if a.draining && m.GetAction() == messages.JobAction_JOB_ACTION_RESUME {
		ctx.Respond(refused("", "the conductor is shutting down"))
		return
	}
	// Not active: only resume means something, for a failed or cancelled run.
	dir := a.deps.Paths.Instruments
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		run, ok, err := db.LatestRun(qctx, id)
		if !ok || err != nil {
			return nil, err
		}
		return prepare(run, dir), nil
	}}, 10*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		qr, _ := res.(*store.QueryResult)
		if err == nil && qr.Err != nil {
			err = qr.Err
		}
		switch {
		case err != nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read job %s: %v", id, err))
			return
		case qr.Value == nil:
			ctx.Respond(notFound(id))
			return
		}
		p := qr.Value.(Prepared)
		status := p.Run.Job.Status
		invalid := func(format string, args ...any) {
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_STATE, "", format, args...))
		}
		switch {
		case m.GetAction() != messages.JobAction_JOB_ACTION_RESUME:
			invalid("job %s is not running or queued (it is %s)", id, status)
		case status == JobCompleted:
			invalid("job %s has already completed; run it again with mzt run", id)
		case a.live(id) != nil:
			ctx.Forward(a.live(id).pid) // resumed meanwhile
		case p.Err != nil:
			invalid("job %s cannot be resumed: %v", id, p.Err)
		default:
			p.Run.Job.Status, p.Run.Job.UserPaused = JobQueued, false
			a.spawnJob(ctx, p, true)
			e := a.jobs[id]
			ctx.RequestWithCustomSender(e.pid, m, ctx.Sender())
			a.admitNext(ctx)
		}
	})
}

// grant hands out sheet slots in request order, within every limit.
func (a *Actor) grant(ctx actor.Context) {
	if a.draining || a.pressure >= monitor.High || len(a.waiters) == 0 {
		return
	}
	now := time.Now()
	// Under low and medium pressure, starts are spaced out.
	gap := map[monitor.Level]time.Duration{monitor.Low: 200 * time.Millisecond, monitor.Medium: time.Second}[a.pressure]
	var wakeAt time.Time
	kept := a.waiters[:0]
	for i, w := range a.waiters {
		until := a.rateUntil[w.instrument]
		switch {
		case len(a.held) >= a.cfg.MaxConcurrentSheets:
		case w.maxConcurrent > 0 && a.perInst[w.instrument] >= w.maxConcurrent:
		case now.Before(until):
			if wakeAt.IsZero() || until.Before(wakeAt) {
				wakeAt = until
			}
		case gap > 0 && now.Sub(a.lastGrant) < gap:
			if t := a.lastGrant.Add(gap); wakeAt.IsZero() || t.Before(wakeAt) {
				wakeAt = t
			}
		default:
			a.held[slotKey{w.jobID, w.num}] = heldSlot{instrument: w.instrument, grantedAt: now, job: w.job}
			a.perInst[w.instrument]++
			a.lastGrant = now
			ctx.Send(w.job, &slotGranted{num: w.num})
			continue
		}
		kept = append(kept, a.waiters[i])
	}
	a.waiters = kept
	if !wakeAt.IsZero() {
		if a.timer != nil {
			a.timer.Stop()
		}
		self, root := ctx.Self(), ctx.ActorSystem().Root
		a.timer = time.AfterFunc(max(time.Until(wakeAt), time.Millisecond), func() { root.Send(self, &tick{}) })
	}
}

func (a *Actor) release(jobID string, num int) {
	k := slotKey{jobID, num}
	delete(a.running, k)
	if h, ok := a.held[k]; ok {
		delete(a.held, k)
		a.perInst[h.instrument]--
	}
}

func (a *Actor) cancelWaiters(jobID string) {
	kept := a.waiters[:0]
	for _, w := range a.waiters {
		if w.jobID != jobID {
			kept = append(kept, w)
		}
	}
	a.waiters = kept
}

func (a *Actor) onPressure(ctx actor.Context, m *monitor.PressureChanged) {
	a.pressure, a.pressNote = m.Level, m.Note
	if m.Level == monitor.Critical {
		// Stop the youngest running sheet; it is requeued without using an attempt.
		var youngest *heldSlot
		for _, h := range a.held {
			if youngest == nil || h.grantedAt.After(youngest.grantedAt) {
				h := h
				youngest = &h
			}
		}
		if youngest != nil {
			a.log.Warn("critical pressure: stopping the youngest running sheet")
			ctx.Send(youngest.job, &preempt{})
		}
	}
	a.grant(ctx)
}

func (a *Actor) broadcast(ctx actor.Context, msg any) {
	for _, e := range a.jobs {
		ctx.Send(e.pid, msg)
	}
}

func (a *Actor) drain(ctx actor.Context, m *Drain) {
	a.draining = true
	a.drainTo = ctx.Sender()
	a.waiters = nil
	a.broadcast(ctx, &halt{})
	if m.Force {
		a.broadcast(ctx, &interrupt{reason: "forced stop"})
	} else if m.Timeout > 0 && a.drainTimer == nil {
		self, root := ctx.Self(), ctx.ActorSystem().Root
		a.drainTimer = time.AfterFunc(m.Timeout, func() { root.Send(self, &drainDeadline{}) })
	}
	a.checkDrained(ctx)
}

func (a *Actor) checkDrained(ctx actor.Context) {
	if !a.draining || a.drainTo == nil {
		return
	}
	interruptedAll := true
	for _, e := range a.jobs {
		if e.running > 0 {
			interruptedAll = false
		}
	}
	if interruptedAll && len(a.held) == 0 {
		ctx.Send(a.drainTo, &Drained{})
		a.drainTo = nil
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
		for k := range a.held {
			if k.jobID == id {
				a.release(id, k.num)
			}
		}
		a.cancelWaiters(id)
		switch e.info.GetStatus() {
		case JobCompleted, JobFailed, JobCancelled:
		default:
			if !a.draining {
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
