package jobs

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

// Messages between the job manager and a job actor.
type (
	admit       struct{}
	slotGranted struct{ num int }
	rateLimited struct {
		instrument string
		until      time.Time
		by         string // the fleet member that saw it; "" = this conductor
	}
	interrupt struct{ reason string }
	// halt: the conductor is stopping; start nothing new.
	halt struct{}
	// preempt stops sheet num (critical pressure; preempt.go).
	preempt struct {
		num  int
		note string
	}
	wake struct{}

	slotRequest struct {
		jobID         string
		num           int
		instrument    string
		maxConcurrent int
		job           *actor.PID
		startedAt     time.Time // when the request was made, for fairness
		reason        string    // why it was not granted at the last round (told to the job once)
	}
	// slotWaiting tells a job why its sheet's slot request is not granted yet.
	slotWaiting struct {
		num    int
		reason string
	}
	slotRelease struct {
		jobID string
		num   int
	}
	slotCancel   struct{ jobID string }
	rateLimitHit struct {
		instrument string
		until      time.Time
	}
	// jobUpdate is a job's summary after every transition; a finished job
	// also sends its final status and log plan.
	jobUpdate struct {
		info     *messages.JobInfo
		running  int
		finished bool
		final    *messages.JobStatus
		plan     *logPlan
	}
	// finalWrite tags the store write of a finished job.
	finalWrite struct {
		jobID, runKey string
		hooks         bool // hooks became due with it
	}
	// logPlanRequest asks where a job's output is; reply *logPlan.
	logPlanRequest struct {
		jobID string
		run   int // 0: the latest run
	}
)

// jobSettings are the conductor settings a job actor uses.
type jobSettings struct {
	killGrace time.Duration
	baseEnv   []string
	logDir    string        // this run's folder of captured output
	runner    attemptRunner // nil: runAttempt
	tracker   *reaper.Tracker
	cgroups   *cgroup.Tree // nil: process groups, subreaper and tokens only
	// stallAfter and onStall apply to stages that set neither.
	stallAfter time.Duration
	onStall    string
	stats      *correlation.Table // history for ETAs; nil: no ETA
	maxSheets  int                // max_concurrent_sheets, for ETAs
	logCap     int64              // bytes per try and stream (max_log_mb); 0: none
	hooks      []config.Hook      // the conductor's [[hooks]]
	sup        *supervisor.Client // nil: tries run in the conductor's process tree
	handover   <-chan struct{}    // closed: leave supervised tries running (mzt restart)
	// orphanAfter is a job's orphan deadline (nil or 0: none).
	orphanAfter func(jobID string) time.Duration
	prep        *runPrep // nil: run folders are made at the first try
}

type sheetState struct {
	row       store.SheetRow
	sh        score.Sheet
	requested bool
	holdsSlot bool    // a conductor slot was granted for the current try
	launch    *launch // the current try, until its process starts
	cancel    context.CancelFunc
	stopWhy   stopReason  // why we stopped (or must not start) the current try
	stallNote string      // why a stalled try was stopped
	exited    *int        // the exit code of a try that ended while no conductor ran
	adopted   *AdoptedTry // a try a previous conductor left running with a supervisor
	live      *SheetProfile
	lastEvent messages.SheetState // the status last published as an event
	// rlStreak counts rate-limit waits in a row that named no reset time
	// (kept in memory: a restart gives a sheet a fresh streak).
	rlStreak int
	waitWhy  string // why a waiting sheet waits (backoff, a rate limit), with until
	// lastFailure is why the previous try failed, for the next one's templates.
	lastFailure score.Failure
	slotWhy     string // why its slot request is not granted yet (from the manager)
}

// jobActor drives one job's DAG. It is never restarted automatically: a
// restart could start a sheet twice.
type jobActor struct {
	mgr, store *actor.PID
	log        *slog.Logger
	set        jobSettings
	sc         *score.Score
	profiles   map[string]*instrument.Profile
	job        store.JobRow
	sheets     []*sheetState
	admitted   bool
	cancelling bool
	revive     bool // spawned to resume a failed or cancelled run (see Prepared.Revive)
	// cancelReason says why, when not the user: a job it runs after failed.
	cancelReason string
	depsDone     bool // the jobs it runs after finished
	halted       bool // the conductor is stopping: nothing new starts
	finished     bool
	wakeTimer    *mailbox.Timer
	idx          dagIndex
	lastEvent    messages.JobState // the job status last published as an event
	eta          etaCache
	spent        *store.Usage // what the tries reported; nil until first needed (spentUsage)
	costEst      costEstimate
	worktrees    worktreeState
	// written is the job row as last sent to the store (nil: none yet).
	// This actor is the only writer of its row while it lives, so a row
	// equal to it is not written again: most sheet transitions leave the
	// job row as it was, and it is one statement fewer per transition.
	written *store.JobRow
}

func (j *jobActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		j.initRun()
		j.prepareRunFolder(ctx)
		j.settleExitedAttempts(ctx)
		j.adoptTries(ctx)
		j.publish(ctx)
	case *depsSettled:
		j.onDepsSettled(ctx)
	case *depsFailed:
		j.onDepsFailed(ctx, m)
	case *admit:
		j.admitted = true
		if j.job.StartedAt.IsZero() {
			j.job.StartedAt = time.Now()
		}
		j.setJobStatus()
		j.persist(ctx, nil)
		j.schedule(ctx)
	case *slotGranted:
		j.startAttempt(ctx, m.num)
	case *slotWaiting:
		if m.num >= 1 && m.num <= len(j.sheets) {
			j.sheets[m.num-1].slotWhy = m.reason
		}
	case *store.WriteDone:
		if tag, ok := m.Tag.(*tryRecorded); ok {
			j.onTryRecorded(ctx, tag, m.Err)
		}
	case *tryPlanned:
		j.onTryPlanned(ctx, m)
	case *worktreesRemoved:
		j.worktrees = worktreesGone
		j.finish(ctx, m.status, m.reason)
	case *attemptStarted:
		s := j.sheets[m.num-1]
		if s.row.Tries == m.try && s.row.Status == messages.SheetRunning {
			s.row.PID, s.row.PGID, s.row.ProcStart = m.proc.PID, m.proc.PGID, m.proc.StartTicks
			j.persist(ctx, nil, s)
			j.reportRunning(ctx, s)
		}
	case *profileUpdate:
		j.applyProfile(ctx, &m.p)
	case *reconfigured:
		j.set.stallAfter, j.set.onStall, j.set.maxSheets = m.stallAfter, m.onStall, m.maxSheets
	case *attemptDone:
		j.finishAttempt(ctx, m)
		j.checkBudget(ctx)
		j.schedule(ctx)
	case *rateLimited:
		j.onRateLimited(ctx, m)
	case *wake:
		j.schedule(ctx)
	case *halt:
		j.halted = true
	case *interrupt:
		j.halted = true
		j.stopRunning(stopInterrupt)
	case *preempt:
		j.preemptSheet(ctx, m)
	case *fenceStop:
		j.fenceSheets(ctx, m)
	case *messages.JobControlRequest:
		j.control(ctx, m)
	case *budgetReached:
		j.pauseForBudget(ctx, m.detail)
	case *messages.JobStatusRequest:
		ctx.Respond(statusFor(m, j.status()))
	case *logPlanRequest:
		ctx.Respond(j.logPlan())
	case *actor.Stopping:
		j.wakeTimer.Stop()
		// The manager only stops a job that is finished or interrupted; make
		// sure no attempt outlives its actor either way.
		j.stopRunning(stopInterrupt)
	}
}

func (j *jobActor) running() int { return j.idx.counts[messages.SheetRunning] }

// schedule skips what can no longer run, ends waits that are due, requests
// slots for ready sheets up to max_parallel, and finishes the job when
// nothing is left to do.
func (j *jobActor) schedule(ctx actor.Context) {
	if j.finished {
		return
	}
	now := time.Now()
	for len(j.idx.cascade) > 0 {
		i := j.idx.cascade[0]
		j.idx.cascade = j.idx.cascade[1:]
		for _, d := range j.idx.dependents[i] {
			ds := j.sheets[d]
			if ds.row.Status != messages.SheetPending && ds.row.Status != messages.SheetWaiting {
				continue
			}
			ds.row.FinishedAt, ds.row.WaitingUntil = now, time.Time{}
			if j.cancelling {
				ds.row.Error = "cancelled"
				j.setStatus(ds, messages.SheetCancelled)
			} else {
				ds.row.Error = fmt.Sprintf("skipped: sheet %d it depends on did not complete", i+1)
				j.setStatus(ds, messages.SheetSkipped)
			}
			j.persist(ctx, nil, ds)
		}
	}
	var nextWake time.Time
	for i := range j.idx.waiting {
		s := j.sheets[i]
		if now.Before(s.row.WaitingUntil) {
			if nextWake.IsZero() || s.row.WaitingUntil.Before(nextWake) {
				nextWake = s.row.WaitingUntil
			}
			continue
		}
		s.row.WaitingUntil, s.waitWhy = time.Time{}, "" // a reason that ended clears
		j.setStatus(s, messages.SheetPending)
		j.persist(ctx, nil, s)
	}
	blocked := j.job.UserPaused || j.cancelling || j.halted || !j.admitted || (j.sc.FailFast && j.anyFailed())
	inFlight := j.running() + j.idx.requested
	for !blocked && inFlight < j.sc.MaxParallel && j.idx.ready.Len() > 0 {
		i := heap.Pop(&j.idx.ready).(int)
		j.idx.inReady[i] = false
		s := j.sheets[i]
		if s.row.Status != messages.SheetPending || s.requested || j.idx.remaining[i] > 0 {
			continue // stale entry
		}
		s.requested = true
		j.idx.requested++
		inFlight++
		p := j.profiles[s.sh.Instrument()]
		ctx.Send(j.mgr, &slotRequest{jobID: j.job.JobID, num: s.row.Num, instrument: p.Name,
			maxConcurrent: p.MaxConcurrent, job: ctx.Self(), startedAt: now})
	}
	if !nextWake.IsZero() {
		j.armWake(ctx, time.Until(nextWake))
	}
	j.checkFinished(ctx)
	j.publish(ctx)
}

func (j *jobActor) armWake(ctx actor.Context, d time.Duration) {
	j.wakeTimer.Stop()
	j.wakeTimer = mailbox.After(ctx.ActorSystem().Root, ctx.Self(), max(d, time.Millisecond), &wake{})
}

func (j *jobActor) anyFailed() bool { return j.idx.counts[messages.SheetFailed] > 0 }

// checkFinished settles the job once nothing runs and nothing can start.
func (j *jobActor) checkFinished(ctx actor.Context) {
	if j.running() > 0 || j.finished {
		return
	}
	now := time.Now()
	settle := func(status messages.SheetState, reason string) {
		for _, s := range j.sheets {
			if !s.row.Status.Terminal() {
				s.row.Error, s.row.FinishedAt, s.row.WaitingUntil = reason, now, time.Time{}
				j.setStatus(s, status)
			}
		}
	}
	if j.cancelling {
		reason := "cancelled by the user"
		if j.cancelReason != "" {
			reason = j.cancelReason
		}
		settle(messages.SheetCancelled, "cancelled")
		j.finish(ctx, messages.JobCancelled, reason)
		return
	}
	if j.sc.FailFast && j.anyFailed() {
		settle(messages.SheetSkipped, "skipped: fail_fast after a failed sheet")
	}
	c := j.idx.counts
	completed := c[messages.SheetCompleted]
	failed := c[messages.SheetFailed] + c[messages.SheetSkipped] + c[messages.SheetCancelled]
	if completed+failed < len(j.sheets) {
		return // something can still run (or waits for a resume)
	}
	if failed == 0 {
		j.finish(ctx, messages.JobCompleted, "")
		return
	}
	j.finish(ctx, messages.JobFailed, fmt.Sprintf("%d of %d sheets did not complete", failed, len(j.sheets)))
}

// finish records the job's end. The manager answers for the job from the
// final snapshot until the store confirms the write, then stops this actor
// (with a poison pill, so nothing already queued here is lost).
func (j *jobActor) finish(ctx actor.Context, status messages.JobState, reason string) {
	if j.removeWorktrees(ctx, status, reason) {
		return // finished once they are gone
	}
	j.finished = true
	j.job.Status, j.job.Error, j.job.FinishedAt = status, reason, time.Now()
	job, rows := j.job, j.rows()
	j.written = &job
	hooks := dueHooks(job, rows, j.sc.Hooks, j.set.hooks, time.Now()) // stored with the final state, run after it
	ctx.Send(j.store, &store.Write{Op: &store.SaveSheets{Job: &job, Sheets: rows, Hooks: hooks}, ReplyTo: j.mgr,
		Tag: &finalWrite{jobID: j.job.JobID, runKey: j.job.RunKey, hooks: len(hooks) > 0}})
	ctx.Send(j.mgr, &slotCancel{jobID: j.job.JobID})
	j.log.Info("job finished", "status", status, "reason", reason)
	j.publish(ctx)
}

func (j *jobActor) setJobStatus() {
	switch {
	case j.finished:
	case j.job.UserPaused:
		j.job.Status = messages.JobPaused
	case !j.admitted:
		j.job.Status = messages.JobQueued
	default:
		j.job.Status = messages.JobRunning
	}
}

// prevOutputs gathers .Prev for a sheet from the stages it descends from,
// only when its stage's templates read .Prev.
func (j *jobActor) prevOutputs(s *sheetState) map[string]score.PrevStage {
	prev := map[string]score.PrevStage{}
	if !j.idx.stageUses[s.sh.StageIndex] {
		return prev
	}
	index := map[string]int{}
	for i, st := range j.sc.Stages {
		index[st.ID] = i
	}
	for _, stage := range j.sc.Ancestors(s.sh.StageIndex) {
		var ps score.PrevStage
		r := j.idx.stageRange[index[stage]]
		outs := make([]string, 0, r[1]-r[0])
		for _, o := range j.sheets[r[0]:r[1]] {
			ps.Voices = append(ps.Voices, score.VoiceOutput{Output: o.row.OutputTail})
			outs = append(outs, o.row.OutputTail)
		}
		ps.Output = strings.Join(outs, "\n")
		prev[stage] = ps
	}
	return prev
}

func lastLine(texts ...string) string {
	for _, t := range texts {
		lines := strings.Split(strings.TrimSpace(t), "\n")
		if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
			return truncate(l, 200)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func toStoreValidations(checks []sheetrun.CheckResult) []store.Validation {
	out := make([]store.Validation, len(checks))
	for i, c := range checks {
		out[i] = store.Validation{Type: c.Type, Passed: c.Passed, Detail: c.Detail}
	}
	return out
}

func (j *jobActor) onRateLimited(ctx actor.Context, m *rateLimited) {
	for _, s := range j.sheets {
		if s.row.Status != messages.SheetPending || j.profiles[s.sh.Instrument()].Name != m.instrument {
			continue
		}
		s.row.WaitingUntil = m.until
		s.waitWhy = "instrument " + m.instrument + " is rate limited until " + clock(m.until) + seenBy(m.by)
		j.setStatus(s, messages.SheetWaiting)
		j.persist(ctx, nil, s)
	}
	j.schedule(ctx)
}

// stopRunning cancels every running attempt; each reports back through
// attemptDone and is settled according to why. A try whose process has not
// started yet is marked, and never starts.
func (j *jobActor) stopRunning(why stopReason) {
	for _, s := range j.sheets {
		if s.row.Status != messages.SheetRunning || (s.cancel == nil && s.launch == nil) {
			continue
		}
		if s.stopWhy == stopNone {
			s.stopWhy = why
		}
		if s.cancel != nil {
			s.cancel()
		}
	}
}

func (j *jobActor) control(ctx actor.Context, m *messages.JobControlRequest) {
	invalid := func(format string, args ...any) {
		ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_STATE, "", format, args...))
	}
	var notes []string
	switch m.GetAction() {
	case messages.JobAction_JOB_ACTION_PAUSE:
		if j.cancelling {
			invalid("job %s is being cancelled", j.job.JobID)
			return
		}
		if j.job.UserPaused {
			invalid("job %s is already paused", j.job.JobID)
			return
		}
		j.job.UserPaused, j.job.PauseReason = true, ""
		ctx.Send(j.mgr, &slotCancel{jobID: j.job.JobID})
		j.clearRequests()
	case messages.JobAction_JOB_ACTION_RESUME:
		if j.cancelling {
			invalid("job %s is being cancelled", j.job.JobID)
			return
		}
		if !j.job.UserPaused && !j.revive {
			// Resuming a running job would only disturb it: nothing changes.
			invalid("job %s is %s: only a paused, failed or cancelled job can be resumed", j.job.JobID, j.job.Status)
			return
		}
		if !j.resumeBudget(ctx, m.GetBudgetAddUsd()) {
			return
		}
		j.job.UserPaused, j.job.PauseReason = false, ""
		ctx.Send(j.mgr, &slotCancel{jobID: j.job.JobID})
		if j.revive {
			notes = j.reviveSheets(time.Now())
			j.revive = false
		}
		j.job.FinishedAt, j.job.Error = time.Time{}, ""
		j.buildIndex()
	case messages.JobAction_JOB_ACTION_CANCEL:
		j.cancelling = true
		ctx.Send(j.mgr, &slotCancel{jobID: j.job.JobID})
		j.clearRequests()
		j.stopRunning(stopCancel)
	}
	j.setJobStatus()
	j.persist(ctx, nil)
	ctx.Respond(&messages.JobControlResponse{JobId: j.job.JobID, Status: string(j.job.Status), Notes: notes})
	j.schedule(ctx)
}

// reviveSheets gives the failed, skipped and cancelled sheets of a finished
// run a fresh budget of attempts; completed sheets are kept. A sheet that
// still waits (backoff, rate limit) or is pending keeps what it used, and a
// known rate-limit reset still in the future is waited for: a resume must not
// call the agent into a limit it was told about.
func (j *jobActor) reviveSheets(now time.Time) (notes []string) {
	for _, s := range j.sheets {
		switch s.row.Status {
		case messages.SheetFailed, messages.SheetSkipped, messages.SheetCancelled:
			// Statuses change outside setStatus here: buildIndex follows.
			s.row.Status, s.row.Attempts, s.row.RateLimitWaited = messages.SheetPending, 0, 0
			s.row.FinishedAt = time.Time{}
			if now.Before(s.row.WaitingUntil) {
				s.row.Status = messages.SheetWaiting
				s.row.Error = "waiting for the rate limit to reset at " + s.row.WaitingUntil.UTC().Format(time.RFC3339)
				s.waitWhy = "rate limit until " + clock(s.row.WaitingUntil)
				if len(notes) < 10 {
					notes = append(notes, fmt.Sprintf("sheet %d waits for its rate limit to reset at %s", s.row.Num,
						s.row.WaitingUntil.UTC().Format(time.RFC3339)))
				}
			} else {
				s.row.WaitingUntil = time.Time{}
			}
		}
	}
	return notes
}

// persist writes the job row and the given sheets (and attempt) in one transaction.
func (j *jobActor) persist(ctx actor.Context, att *store.AttemptRow, sheets ...*sheetState) {
	j.write(ctx, nil, att, sheets)
}

// persistAck is persist, and the store tells this actor (with tag) once the
// write is durable.
func (j *jobActor) persistAck(ctx actor.Context, tag any, sheets ...*sheetState) {
	j.write(ctx, tag, nil, sheets)
}

func (j *jobActor) write(ctx actor.Context, tag any, att *store.AttemptRow, sheets []*sheetState) {
	job := j.job
	job.ScoreSource = nil // written once at insert; the upsert leaves it alone
	rows := make([]store.SheetRow, len(sheets))
	for i, s := range sheets {
		rows[i] = s.row
	}
	op := &store.SaveSheets{Sheets: rows, Attempt: att}
	if j.written == nil || !sameJobRow(*j.written, job) {
		op.Job, j.written = &job, &job
	}
	w := &store.Write{Op: op}
	if tag != nil {
		w.ReplyTo, w.Tag = ctx.Self(), tag
	}
	ctx.Send(j.store, w)
	j.emitSheets(ctx, sheets)
}

func (j *jobActor) publish(ctx actor.Context) {
	j.emitJob(ctx)
	info := j.info()
	u := &jobUpdate{info: info, running: int(info.GetSheetsRunning()), finished: j.finished}
	if j.finished {
		u.final, u.plan = j.status(), j.logPlan()
	}
	ctx.Send(j.mgr, u)
}

func (j *jobActor) rows() []store.SheetRow {
	rows := make([]store.SheetRow, len(j.sheets))
	for i, s := range j.sheets {
		rows[i] = s.row
	}
	return rows
}

// info is published after every transition: count in place rather than
// copying every sheet row (a 10,000-sheet job transitions often).
func (j *jobActor) info() *messages.JobInfo {
	info := jobHeader(j.job)
	info.After = j.waitingFor()
	setUsage(info, j.spentUsage())
	info.MaxCostUsd = j.budget()
	c := j.idx.counts
	info.SheetsCompleted, info.SheetsRunning, info.SheetsFailed = int64(c[messages.SheetCompleted]), int64(c[messages.SheetRunning]), int64(c[messages.SheetFailed])
	j.setETA(info, time.Now())
	return info
}

func (j *jobActor) status() *messages.JobStatus {
	infos := j.withLive(sheetInfos(j.rows()))
	j.explainWaits(infos, time.Now())
	return &messages.JobStatus{Job: j.info(), Sheets: infos}
}

func (j *jobActor) logPlan() *logPlan {
	return newLogPlan(j.set.logDir, j.job, j.rows())
}

// sameJobRow reports whether a and b would store the same job row. Deep
// equality, not a list of fields: a field added later is compared too (a
// row that differs only in how it is held in memory is merely written).
func sameJobRow(a, b store.JobRow) bool { return reflect.DeepEqual(a, b) }
