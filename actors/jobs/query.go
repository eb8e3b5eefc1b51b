package jobs

import (
	"context"
	"path/filepath"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

func notFound(id string) *messages.Error {
	return messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt list --all", "job %s not found", id)
}

// fromStore answers a request about a job that is not active by reading its
// latest run, without blocking this mailbox.
func (a *Actor) fromStore(ctx actor.Context, jobID string, answer func(run store.Run) any) {
	fromStoreAs(a, ctx, jobID, (*store.DB).LatestRun, answer)
}

// fromStoreAs is fromStore reading the run with read.
func fromStoreAs[T any](a *Actor, ctx actor.Context, jobID string, read func(*store.DB, context.Context, string) (T, bool, error),
	answer func(run T) any) {
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		run, ok, err := read(db, qctx, jobID)
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
			ctx.Respond(answer(qr.Value.(T)))
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
	if m.GetSheet() > 0 {
		a.sheetDetail(ctx, m)
		return
	}
	if e := a.jobs[m.GetJobId()]; e != nil {
		if e.final != nil {
			ctx.Respond(statusFor(m, e.final))
			return
		}
		ctx.Forward(e.pid)
		return
	}
	// Only what status shows is read: a finished run of many sheets is
	// most of its cost; a brief status of a big run reads only the sheets
	// that need a look.
	if m.GetBrief() {
		fromStoreAs(a, ctx, m.GetJobId(), func(db *store.DB, qctx context.Context, id string) (store.BriefRun, bool, error) {
			return db.StatusRunBrief(qctx, id, messages.BriefSheets)
		}, func(br store.BriefRun) any { return briefStatus(br) })
		return
	}
	fromStoreAs(a, ctx, m.GetJobId(), (*store.DB).StatusRun, func(run store.Run) any {
		return &messages.JobStatus{Job: jobInfo(run.Job, run.Sheets), Sheets: sheetInfos(run.Sheets)}
	})
}

// briefStatus is the brief status of a run read with StatusRunBrief: its
// counts from the run's tallies, as only some of its sheets were read
// (running ones always are: they need a look).
func briefStatus(br store.BriefRun) *messages.JobStatus {
	info := jobHeader(br.Run.Job)
	for i := range br.Run.Sheets {
		if br.Run.Sheets[i].Status == messages.SheetRunning {
			info.SheetsRunning++
		}
	}
	info.SheetsCompleted, info.SheetsFailed = int64(br.Completed), int64(br.Failed)
	setUsage(info, br.Usage)
	return &messages.JobStatus{Job: info, Sheets: sheetInfos(br.Run.Sheets), Quiet: br.Quiet}
}

// statusFor is st as m asks for it: brief, or whole.
func statusFor(m *messages.JobStatusRequest, st *messages.JobStatus) *messages.JobStatus {
	if m.GetBrief() {
		return messages.Brief(st)
	}
	return st
}

func (a *Actor) logPlan(ctx actor.Context, m *logPlanRequest) {
	if m.run != 0 && a.earlierRun(ctx, m) {
		return
	}
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
	ids := make([]string, 0, len(a.jobs))
	for id, e := range a.jobs {
		active = append(active, e.info)
		ids = append(ids, id)
	}
	if !m.GetAll() {
		ctx.Respond(listPage(active, nil, 0, m))
		return
	}
	q, err := finishedQuery(m, ids)
	if err != nil {
		ctx.Respond(badCursor(err))
		return
	}
	type finishedPage struct {
		jobs  []*messages.JobInfo
		total int
	}
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		rows, total, err := db.FinishedPage(qctx, q)
		if err != nil {
			return nil, err
		}
		out := make([]*messages.JobInfo, len(rows))
		for i, r := range rows {
			info := jobHeader(r.Job)
			info.SheetsCompleted, info.SheetsFailed = int64(r.Completed), int64(r.Failed)
			setUsage(info, r.Usage)
			out[i] = info
		}
		return finishedPage{out, total}, nil
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
		p := qr.Value.(finishedPage)
		ctx.Respond(listPage(active, p.jobs, p.total, m))
	})
}

func sortJobs(jobs []*messages.JobInfo) {
	sort.SliceStable(jobs, func(i, k int) bool {
		return olderThan(jobs[i], jobs[k].GetCreatedAtUnixNano(), jobs[k].GetId())
	})
}

func (a *Actor) control(ctx actor.Context, m *messages.JobControlRequest) {
	id := m.GetJobId()
	if a.refuseResumeAtDaily(ctx, m) {
		return
	}
	if e := a.live(id); e != nil {
		ctx.Forward(e.pid)
		return
	}
	if a.draining && m.GetAction() == messages.JobAction_JOB_ACTION_RESUME {
		ctx.Respond(refused("", "the conductor is shutting down"))
		return
	}
	if e := a.jobs[id]; e != nil && e.final != nil {
		// Finished, its final state not yet durable: the store would
		// answer from the state before it, and a resume would run that.
		// The request waits for the final write (see forgetIfDone).
		e.parked = append(e.parked, parkedControl{req: m, sender: ctx.Sender()})
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
		case status == messages.JobCompleted:
			invalid("job %s has already completed; run it again with mzt run", id)
		case a.live(id) != nil:
			ctx.Forward(a.live(id).pid) // resumed meanwhile
		case p.Err != nil:
			invalid("job %s cannot be resumed: %v", id, p.Err)
		default:
			p.Run.Job.Status, p.Run.Job.UserPaused, p.Revive = messages.JobQueued, false, true
			p.Run.Job.After = nil // resumed by hand: it no longer waits for other jobs
			a.spawnJob(ctx, p, true)
			e := a.jobs[id]
			ctx.RequestWithCustomSender(e.pid, m, ctx.Sender())
			a.admitNext(ctx)
		}
	})
}
