package jobs

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/messages"
)

func (a *Actor) start(ctx actor.Context) {
	if !a.restarted {
		runs := a.recovered
		a.recovered = nil
		for _, p := range runs {
			a.adopt(ctx, p)
		}
		a.loadQueue(ctx)
		a.admitNext(ctx)
		return
	}
	if a.deps.DB == nil {
		return
	}
	// Restarted after a failure: our job actors died with us; reload.
	a.loading = true
	db, paths, grace, log := a.deps.DB, a.deps.Paths, time.Duration(a.cfg.KillGrace), a.log
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		runs, err := Recover(context.Background(), db, paths, grace, log)
		return &recovered{runs: runs, err: err}
	}, func(err error) any { return &recovered{err: fmt.Errorf("recover jobs: %w", err)} })
}

func (a *Actor) onRecovered(ctx actor.Context, m *recovered) {
	a.loading = false
	if m.err != nil {
		a.log.Error("reload jobs from the store", "err", m.err)
	}
	for _, p := range m.runs {
		a.adopt(ctx, p)
	}
	a.loadQueue(ctx)
	a.admitNext(ctx)
}

// adopt spawns the actor of a recovered run (or records it failed when its
// score can no longer be read).
func (a *Actor) adopt(ctx actor.Context, p Prepared) {
	if p.Err != nil {
		job := p.Run.Job
		job.Status, job.Error, job.FinishedAt, job.ScoreSource = messages.JobFailed, p.Err.Error(), time.Now(), nil
		a.log.Error("cannot recover job", "job", job.JobID, "err", p.Err)
		ctx.Send(a.deps.Store, &store.Write{Op: &store.SaveJob{Job: job}})
		return
	}
	a.spawnJob(ctx, p, p.Run.Job.Status == messages.JobRunning || p.Run.Job.Status == messages.JobPaused)
}

func (a *Actor) spawnJob(ctx actor.Context, p Prepared, wantsAdmission bool) {
	j := newJobActor(p, &a.deps, a.settings())
	j.mgr = ctx.Self()
	j.log = a.log.With("job", p.Run.Job.JobID)
	if p.Run.Job.Status == messages.JobPaused {
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
	a.jobs[p.Run.Job.JobID] = &entry{pid: pid, runKey: p.Run.Job.RunKey, info: info, seq: seq, queue: controlsOf(p.Run.Job)}
}

// admitNext admits queued jobs by the queue's rule (pickAdmissions) while
// fewer than max_concurrent_jobs, and fewer than its group allows, run.
func (a *Actor) admitNext(ctx actor.Context) {
	if a.draining || !a.queue.loaded {
		return
	}
	queue, lim := a.candidates(ctx)
	for _, id := range pickAdmissions(queue, lim) {
		e := a.jobs[id]
		e.admitted = true
		// A paused job holds no slot: admitted so that resume works at once.
		if !e.info.GetUserPaused() {
			e.info.Status = string(messages.JobRunning)
		}
		ctx.Send(e.pid, &admit{})
	}
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
	case a.slots.pressure >= monitor.High:
		why := "resource pressure is " + a.slots.pressure.String()
		if a.pressNote != "" {
			why += ": " + a.pressNote
		}
		ctx.Respond(refused("mzt conductor-status shows memory and process use; retry when pressure falls", "%s", why))
		return
	}
	sender, dir, maxSheets := ctx.Sender(), a.deps.Paths.Instruments, a.cfg.MaxSheetsPerJob
	root, storePID, logs, db := ctx.ActorSystem().Root, a.deps.Store, a.deps.Paths.SheetLogs, a.deps.DB
	mailbox.Go(root, ctx.Self(), func() any {
		out := &parsed{req: req, sender: sender}
		out.prep, out.err = parseSubmission(req, dir, maxSheets)
		if out.err == nil && rerunModeOf(req).active() {
			out.rerun, out.err = prepareRerun(root, storePID, out.prep.Score, rerunModeOf(req), dir, logs)
		}
		if out.err == nil && db != nil && len(req.GetAfter()) > 0 {
			out.depStates, out.err = db.JobStates(context.Background(), req.GetAfter())
		}
		return out
	}, func(err error) any { return &parsed{req: req, sender: sender, err: fmt.Errorf("parse score: %w", err)} })
}

// parseSubmission parses a submitted score and creates its workspace (off
// the mailbox; each attempt also recreates it).
func parseSubmission(req *messages.SubmitJobRequest, instrumentsDir string, maxSheets int) (Prepared, error) {
	sc, profiles, err := score.Read(req.GetScorePath(), req.GetScoreSource(),
		score.ReadOptions{InstrumentsDir: instrumentsDir, MaxSheets: maxSheets, JobID: req.GetJobId(), CheckRunnable: true})
	if err != nil {
		return Prepared{}, err
	}
	if err := os.MkdirAll(sc.Workspace, 0o755); err != nil {
		return Prepared{}, fmt.Errorf("create workspace %s: %w", sc.Workspace, err)
	}
	return Prepared{Score: sc, Profiles: profiles}, nil
}

func (a *Actor) onParsed(ctx actor.Context, m *parsed) {
	if m.err != nil {
		ctx.Send(m.sender, submitError(m.err))
		return
	}
	sc := m.prep.Score
	if a.live(sc.ID) != nil || a.reserved[sc.ID] {
		ctx.Send(m.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE,
			"mzt cancel "+sc.ID+", or run it under another id with --id", "job %s is already active", sc.ID))
		a.discardRerun(ctx, m.rerun)
		return
	}
	if !a.queue.loaded {
		a.queue.parked = append(a.queue.parked, m) // judged once the groups are known
		return
	}
	if e := a.checkQueueRequest(sc.ID, m.req, m.depStates); e != nil {
		ctx.Send(m.sender, e)
		return
	}
	a.rememberDepStates(m.depStates)
	now := time.Now()
	runKey := sc.ID + "." + strconv.FormatInt(now.UnixNano(), 36)
	if m.rerun != nil {
		runKey = m.rerun.runKey // its logs are linked there already
	}
	job := store.JobRow{
		RunKey: runKey, JobID: sc.ID, Name: sc.Name, Status: messages.JobQueued,
		ScorePath: sc.Path, ScoreSource: sc.Source, Workspace: sc.Workspace, CreatedAt: now,
		SheetsTotal: sc.TotalSheets(),
		Priority:    int(m.req.GetPriority()), Group: m.req.GetGroup(), After: m.req.GetAfter(), AfterAny: m.req.GetAfterAny(),
		BudgetUSD: fleetBudget(sc.MaxCostUSD, m.req.GetFleetPriorCostUsd()),
	}
	var rows []store.SheetRow
	for _, sh := range sc.Sheets() {
		if r, ok := m.rerun.kept(sh.Num); ok {
			rows = append(rows, keptRow(r, job.RunKey, sh.Num))
			continue
		}
		rows = append(rows, newSheetRow(job.RunKey, sh, m.prep.Profiles))
	}
	a.reserved[sc.ID] = true
	op := &store.InsertRun{Job: job, Sheets: rows}
	ctx.Send(a.deps.Store, &store.Write{Op: op, ReplyTo: ctx.Self(),
		Tag: &inserted{prep: Prepared{Run: store.Run{Job: job, Sheets: rows}, Score: sc, Profiles: m.prep.Profiles}, sender: m.sender,
			rerun: m.rerun}})
}

func (a *Actor) onInserted(ctx actor.Context, in *inserted, done *store.WriteDone) {
	id := in.prep.Score.ID
	delete(a.reserved, id)
	if done.Err != nil {
		a.discardRerun(ctx, in.rerun)
		ctx.Send(in.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "check free disk space under "+a.deps.Paths.Home,
			"job %s was not submitted: the state database could not be written: %v", id, done.Err))
		return
	}
	in.prep.Run.Job.Run = done.Op.(*store.InsertRun).Job.Run
	a.spawnJob(ctx, in.prep, false)
	a.log.Info("job submitted", "job", id, "run", in.prep.Run.Job.Run, "sheets", in.prep.Run.Job.SheetsTotal)
	a.admitNext(ctx)
	resp := &messages.SubmitJobResponse{JobId: id, Status: a.jobs[id].info.GetStatus(),
		SheetsTotal: int64(in.prep.Run.Job.SheetsTotal)}
	in.rerun.describe(resp)
	ctx.Send(in.sender, resp)
}
