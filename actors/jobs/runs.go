package jobs

import (
	"context"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// earlierRun answers a log plan for run m.run of an id when it is not the
// run the manager drives (that one is answered as usual); false: not handled.
func (a *Actor) earlierRun(ctx actor.Context, m *logPlanRequest) bool {
	if e := a.jobs[m.jobID]; e != nil && e.info != nil && e.info.GetRun() == int64(m.run) {
		return false
	}
	dir, id, n := a.deps.Paths.SheetLogs, m.jobID, m.run
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		run, ok, err := db.NthRun(qctx, id, n)
		if !ok && err == nil {
			return nil, nil
		}
		return run, err
	}}, 10*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		qr, _ := res.(*store.QueryResult)
		switch {
		case err != nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "read job %s: %v", id, err))
		case qr.Err != nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read job %s: %v", id, qr.Err))
		case qr.Value == nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt list --all",
				"job %s has no run %d", id, n))
		default:
			run := qr.Value.(store.Run)
			p := newLogPlan(filepath.Join(dir, run.Job.RunKey), run.Job, run.Sheets)
			p.Finished = true // an earlier run's output no longer grows
			ctx.Respond(p)
		}
	})
	return true
}
