package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// A try goes: slot granted -> recorded as running (number, token) and
// rendered, both off the mailbox -> its process starts -> it ends -> a
// verdict. The process never starts before the store confirms the try: a
// conductor killed in between would otherwise run the sheet again under the
// same try number, overwriting the first run's logs.

// launch is a try between its grant and its process start.
type launch struct {
	try      int
	durable  bool  // the store confirmed the try
	writeErr error // the store could not record it
	planned  bool
	plan     attemptPlan
	planErr  error // it could not be rendered
}

// tryRecorded tags the store write that records a try as running.
type tryRecorded struct{ num, try int }

// tryPlanned carries a try's rendered plan back to the job actor.
type tryPlanned struct {
	num, try int
	plan     attemptPlan
	err      error
}

// startAttempt begins the try of a sheet whose slot was granted.
func (j *jobActor) startAttempt(ctx actor.Context, num int) {
	s := j.sheets[num-1]
	if s.requested {
		s.requested = false
		j.idx.requested--
	}
	if j.finished || j.cancelling || j.halted || j.job.UserPaused || s.row.Status != messages.SheetPending {
		ctx.Send(j.mgr, &slotRelease{jobID: j.job.JobID, num: num})
		j.maybeReady(num - 1)
		return
	}
	s.holdsSlot = true
	s.slotWhy, s.waitWhy = "", ""
	s.row.Tries++
	j.setStatus(s, messages.SheetRunning)
	s.row.StartedAt, s.row.FinishedAt = time.Now(), time.Time{}
	s.row.ExitCode, s.row.PID, s.row.PGID, s.row.ProcStart = nil, 0, 0, 0
	s.row.Profile, s.row.Notes, s.live = store.Profile{}, nil, nil
	// The previous try's reason stays shown while this one runs.
	lastError := s.row.Error
	try := s.row.Tries
	s.launch = &launch{try: try}
	j.setJobStatus()
	j.persistAck(ctx, &tryRecorded{num: num, try: try}, s)
	in := j.planInput(s, lastError)
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		plan, err := in.render()
		return &tryPlanned{num: num, try: try, plan: plan, err: err}
	}, func(err error) any {
		return &tryPlanned{num: num, try: try, err: fmt.Errorf("render sheet %d: %w", num, err)}
	})
	j.publish(ctx)
}

// currentLaunch is the launch a message about (num, try) belongs to, or nil
// when the message is stale.
func (j *jobActor) currentLaunch(num, try int) (*sheetState, *launch) {
	if num < 1 || num > len(j.sheets) {
		return nil, nil
	}
	s := j.sheets[num-1]
	if s.launch == nil || s.launch.try != try || s.row.Tries != try || s.row.Status != messages.SheetRunning {
		return nil, nil
	}
	return s, s.launch
}

func (j *jobActor) onTryRecorded(ctx actor.Context, tag *tryRecorded, err error) {
	s, l := j.currentLaunch(tag.num, tag.try)
	if l == nil {
		return
	}
	l.durable, l.writeErr = true, err
	j.maybeLaunch(ctx, s)
}

func (j *jobActor) onTryPlanned(ctx actor.Context, m *tryPlanned) {
	s, l := j.currentLaunch(m.num, m.try)
	if l == nil {
		return
	}
	l.planned, l.plan, l.planErr = true, m.plan, m.err
	j.maybeLaunch(ctx, s)
}

// maybeLaunch starts the try's process once it is durable and rendered, or
// settles it without a process when it cannot or must not run.
func (j *jobActor) maybeLaunch(ctx actor.Context, s *sheetState) {
	l := s.launch
	if !l.durable || !l.planned {
		return
	}
	s.launch = nil
	if j.halted && s.stopWhy == stopNone {
		s.stopWhy = stopInterrupt // the conductor is stopping: start nothing new
	}
	done := &attemptDone{num: s.row.Num, try: l.try}
	switch {
	case s.stopWhy != stopNone: // cancelled, interrupted or preempted before it started
	case l.writeErr != nil:
		done.err = fmt.Errorf("the state database could not record the try: %w", l.writeErr)
	case l.planErr != nil:
		done.err, done.unrenderable = l.planErr, true
	default:
		j.spawn(ctx, s, l.plan)
		return
	}
	j.finishAttempt(ctx, done)
	j.schedule(ctx)
}

// spawn runs the try's process; its end comes back as attemptDone.
func (j *jobActor) spawn(ctx actor.Context, s *sheetState, plan attemptPlan) {
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	self, root := ctx.Self(), ctx.ActorSystem().Root
	num, try := plan.num, plan.try
	run := j.set.runner
	if run == nil {
		run = runAttempt
	}
	// runAttempt recovers its own panics and always reports exactly once.
	go run(runCtx, plan,
		func(p sheetrun.Proc) { root.Send(self, &attemptStarted{num: num, try: try, proc: p}) },
		func(d *attemptDone) { cancel(); root.Send(self, d) })
}

// planInput is what rendering a try needs, gathered on the job actor (it
// reads other sheets' outputs); rendering itself runs off the mailbox.
type planInput struct {
	sc        *score.Score // read only
	sh        score.Sheet
	data      score.TemplateData
	profile   *instrument.Profile
	lastError string
	plan      attemptPlan // everything but the prompt and the checks
}

func (j *jobActor) planInput(s *sheetState, lastError string) planInput {
	p := j.profiles[s.sh.Instrument()]
	num, attempt := s.row.Num, s.row.Attempts+1
	plan := attemptPlan{num: num, try: s.row.Tries, attempt: attempt, profile: p, model: s.sh.Stage.Model,
		workspace: j.sc.Workspace, env: sheetEnv(j.set.baseEnv, j.sc, s.sh, p, j.job.JobID),
		timeout: time.Duration(s.sh.Stage.Timeout), killGrace: j.set.killGrace,
		base:  attemptBase(j.set.logDir, num, s.row.Tries),
		token: fmt.Sprintf("%s/%d/%d", j.job.RunKey, num, s.row.Tries), tracker: j.set.tracker, cgroups: j.set.cgroups,
		logCap: j.set.logCap, sup: j.set.sup, handover: j.set.handover, log: j.log}
	if j.set.orphanAfter != nil {
		plan.orphanAfter = j.set.orphanAfter(j.job.JobID)
		if plan.orphanAfter > 0 {
			// A fleet try stopped by its member's fence (or its orphan
			// guard) must be dead before the lease can end: its grace is
			// bounded as the orphan guard's is.
			plan.killGrace = newOrphanGuard(plan.orphanAfter, plan.killGrace).grace
		}
	}
	if plan.timeout == 0 {
		plan.timeout = time.Duration(p.DefaultTimeout)
	}
	data := j.sc.Data(s.sh, attempt, j.prevOutputs(s))
	data.LastFailure = s.lastFailure
	if data.LastFailure.Kind == "" && s.row.Tries > 1 && lastError != "" {
		// Restarted since: only the sheet's error is known.
		data.LastFailure = score.Failure{Kind: string(messages.OutcomeFailed), Message: lastError}
	}
	if p.ResumeSession && s.row.Tries > 1 {
		plan.session = s.row.SessionID
	}
	return planInput{sc: j.sc, sh: s.sh, data: data, profile: p, lastError: lastError, plan: plan}
}

// render renders the try's validations and prompt.
func (in planInput) render() (attemptPlan, error) {
	plan := in.plan
	if err := in.sheetWorkspace(&plan); err != nil {
		return plan, err
	}
	var err error
	if plan.checks, err = renderChecks(in.sh.Stage, in.data); err != nil {
		return plan, err
	}
	plan.prompt, err = buildPrompt(in.sc, in.sh, in.data, in.profile.RawPrompt, in.lastError, plan.checks, in.sh.Stage.Attempts)
	return plan, err
}

// settleExitedAttempts finishes tries that ended while no conductor ran
// (their exit code was found at start): they are judged, not run again.
func (j *jobActor) settleExitedAttempts(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	for _, s := range j.sheets {
		if s.row.Status != messages.SheetRunning || s.exited == nil {
			continue
		}
		code, num, try, startedAt := *s.exited, s.row.Num, s.row.Tries, s.row.StartedAt
		s.exited = nil
		in := j.planInput(s, "")
		j.log.Info("settling a try that ended while the conductor was down", "sheet", num, "try", try, "exit_code", code)
		mailbox.Go(root, self, func() any {
			plan, err := in.render()
			if err != nil {
				return &attemptDone{num: num, try: try, err: err, unrenderable: true}
			}
			// settleExited recovers its own panics and always reports once.
			settleExited(context.Background(), plan, code, startedAt, func(d *attemptDone) { root.Send(self, d) })
			return nil
		}, func(err error) any { return &attemptDone{num: num, try: try, err: err} })
	}
}

// finishAttempt applies the verdict on an ended try.
func (j *jobActor) finishAttempt(ctx actor.Context, d *attemptDone) {
	s := j.sheets[d.num-1]
	if s.row.Tries != d.try || s.row.Status != messages.SheetRunning || s.launch != nil {
		return // a stale report (or one for a try whose process never started)
	}
	if errors.Is(d.result.Err, errHandedOver) {
		return // it runs on, recorded as running, for the next conductor to adopt
	}
	if s.holdsSlot {
		ctx.Send(j.mgr, &slotRelease{jobID: j.job.JobID, num: d.num})
		s.holdsSlot = false
	}
	s.cancel = nil
	why, stallNote := s.stopWhy, s.stallNote
	if why == stopNone && errors.Is(d.result.Err, errSupervisorLost) {
		why = stopInterrupt // as after a crash: run again, no attempt used
	}
	s.stopWhy, s.stallNote, s.live = stopNone, "", nil
	now := time.Now()
	r := d.result
	s.row.FinishedAt = now
	s.row.PID, s.row.PGID, s.row.ProcStart = 0, 0, 0
	if !r.Started.IsZero() {
		code := r.ExitCode
		s.row.ExitCode = &code
	}
	if r.StdoutTail != "" || d.usage.Text != "" {
		s.row.OutputTail = r.StdoutTail
		if d.usage.Text != "" {
			s.row.OutputTail = d.usage.Text
		}
	}
	if d.usage.SessionID != "" {
		s.row.SessionID = d.usage.SessionID
	}
	j.addUsage(ctx, s, d.usage)
	s.row.Validations = toStoreValidations(d.checks)
	s.row.Notes = append(s.row.Notes, r.Notes...) // e.g. a log cut by max_log_mb
	p := j.profiles[s.sh.Instrument()]
	v := judgeTry(tryEnd{attempts: s.row.Attempts, rateLimitWaited: s.row.RateLimitWaited, rateLimitStreak: s.rlStreak, stage: s.sh.Stage,
		profile: p, done: d, stop: why, stallNote: stallNote, jitter: rand.Float64(), now: now})

	att := &store.AttemptRow{RunKey: j.job.RunKey, Num: d.num, Try: d.try, StartedAt: s.row.StartedAt,
		FinishedAt: now, ExitCode: s.row.ExitCode, Validations: s.row.Validations, Profile: s.row.Profile,
		Outcome: v.outcome, Counted: v.counted, Error: v.attemptErr}
	setAttemptUsage(att, d.usage)
	if v.counted {
		s.row.Attempts++
	}
	s.lastFailure = lastFailure(v, d)
	s.row.Error = v.err
	switch {
	case v.kind == verdictRateLimitWait && d.wait <= 0:
		s.rlStreak++
	case v.kind != verdictRequeue:
		s.rlStreak = 0
	}
	switch v.kind {
	case verdictRequeue:
		s.row.FinishedAt = time.Time{}
	case verdictRetry:
		s.row.WaitingUntil = v.until
		s.waitWhy = "backoff until " + clock(v.until)
	case verdictRateLimitWait:
		s.row.RateLimitWaited += v.waited
		s.row.WaitingUntil = v.until
		s.waitWhy = "rate limited by " + p.Name + " until " + clock(v.until)
		ctx.Send(j.mgr, &rateLimitHit{instrument: p.Name, until: v.until})
	case verdictFail:
		s.row.WaitingUntil = v.until // a known rate-limit reset a resume must wait for
	}
	j.setStatus(s, v.sheet)
	switch {
	case s.row.Status == messages.SheetCompleted:
		// Routine, and one line per sheet of a 10,000-sheet job: at debug
		// (status, events and history tell it); what went wrong stays at info.
		j.log.Debug("sheet finished", "sheet", d.num, "status", s.row.Status, "attempts", s.row.Attempts)
	case s.row.Status.Terminal():
		j.log.Info("sheet finished", "sheet", d.num, "status", s.row.Status,
			"attempts", s.row.Attempts, "error", s.row.Error)
	}
	j.setJobStatus()
	j.persist(ctx, att, s)
}

// maxFailureStderr bounds the stderr a retry's templates see.
const maxFailureStderr = 2048

// lastFailure is what the next try's templates learn of this one: nothing
// when it completed or was cancelled.
func lastFailure(v verdict, d *attemptDone) score.Failure {
	if v.kind == verdictComplete || v.kind == verdictCancelled {
		return score.Failure{}
	}
	f := score.Failure{Kind: string(v.outcome), Message: v.err}
	for _, c := range d.checks {
		if !c.Passed {
			f.FailedValidations = append(f.FailedValidations, c.Type+": "+c.Detail)
		}
	}
	tail := d.result.StderrTail
	if len(tail) > maxFailureStderr {
		tail = tail[len(tail)-maxFailureStderr:]
	}
	f.StderrTail = tail
	return f
}
