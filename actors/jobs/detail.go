package jobs

import (
	"context"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/tryjournal"
	"github.com/mzt-dev/mzt/messages"
)

// sheetDetail answers a JobStatusRequest for one sheet: the sheet and every
// try it made, each with its outcome, validations and the paths of its
// prompt and logs. It reads the store (every transition is persisted), so
// it serves active and finished jobs alike without blocking this mailbox.
func (a *Actor) sheetDetail(ctx actor.Context, m *messages.JobStatusRequest) {
	id, num, logs := m.GetJobId(), int(m.GetSheet()), a.deps.Paths.SheetLogs
	type detail struct {
		run   store.Run
		tries []store.AttemptRow
	}
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		run, ok, err := db.LatestRun(qctx, id)
		if !ok || err != nil {
			return nil, err
		}
		tries, err := db.Attempts(qctx, run.Job.RunKey, num)
		// The detail shows each try's prompt file: make those that live
		// only in the run's prompts journal (off the job's mailbox, here).
		if err == nil && num >= 1 && num <= len(run.Sheets) {
			var prompts []string
			for try := 1; try <= run.Sheets[num-1].Tries; try++ {
				prompts = append(prompts, attemptBase(filepath.Join(logs, run.Job.RunKey), num, try)+".prompt")
			}
			_ = tryjournal.MaterializePrompts(prompts)
		}
		return detail{run, tries}, err
	}}, 10*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		qr, _ := res.(*store.QueryResult)
		switch {
		case err != nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "read job %s: %v", id, err))
			return
		case qr.Err != nil:
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read job %s: %v", id, qr.Err))
			return
		case qr.Value == nil:
			ctx.Respond(notFound(id))
			return
		}
		d := qr.Value.(detail)
		if num < 1 || num > len(d.run.Sheets) {
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt status "+id,
				"job %s has no sheet %d (it has %d)", id, num, len(d.run.Sheets)))
			return
		}
		row := d.run.Sheets[num-1]
		ctx.Respond(&messages.JobStatus{Job: jobInfo(d.run.Job, d.run.Sheets), Sheets: sheetInfos([]store.SheetRow{row}),
			Tries: tryInfos(filepath.Join(logs, d.run.Job.RunKey), row, d.tries)})
	})
}

// tryInfos lists a sheet's recorded tries, and the one that runs now (it has
// no attempt row until it ends).
func tryInfos(logDir string, row store.SheetRow, rows []store.AttemptRow) []*messages.TryInfo {
	out := make([]*messages.TryInfo, 0, len(rows)+1)
	seen := map[int]bool{}
	for _, a := range rows {
		seen[a.Try] = true
		t := &messages.TryInfo{Try: int64(a.Try), Counted: a.Counted, Outcome: string(a.Outcome),
			StartedAtUnixNano: unixNano(a.StartedAt), FinishedAtUnixNano: unixNano(a.FinishedAt), Error: a.Error,
			PeakRssMb: a.Profile.PeakRSSMB, CpuSeconds: a.Profile.CPUSeconds}
		if a.ExitCode != nil {
			t.HasExitCode, t.ExitCode = true, int64(*a.ExitCode)
		}
		for _, v := range a.Validations {
			t.Validations = append(t.Validations, &messages.ValidationResult{Type: v.Type, Passed: v.Passed, Detail: v.Detail})
		}
		setTryPaths(t, logDir, row.Num, a.Try)
		out = append(out, t)
	}
	if row.Status == messages.SheetRunning && row.Tries > 0 && !seen[row.Tries] {
		t := &messages.TryInfo{Try: int64(row.Tries), Running: true, StartedAtUnixNano: unixNano(row.StartedAt)}
		setTryPaths(t, logDir, row.Num, row.Tries)
		out = append(out, t)
	}
	return out
}

func setTryPaths(t *messages.TryInfo, logDir string, num, try int) {
	base := attemptBase(logDir, num, try)
	t.PromptPath, t.StdoutPath, t.StderrPath = base+".prompt", base+".stdout", base+".stderr"
}
