package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/messages"
)

// cleanPlan is what one clean removes.
type cleanPlan struct {
	runs []store.FinishedRun
	// workspaces are removed with their runs: only default workspaces
	// (<score dir>/workspaces/<id>) that no run kept or active uses.
	workspaces map[string]bool
}

// planClean picks the finished runs to remove: those that finished before
// cutoff (zero: any), beyond the newest keep, of no job id that is active.
// runs come newest first.
func planClean(runs []store.FinishedRun, activeIDs, activeWorkspaces map[string]bool, cutoff time.Time, keep int) cleanPlan {
	p := cleanPlan{workspaces: map[string]bool{}}
	used := map[string]bool{} // workspaces of runs that stay
	for w := range activeWorkspaces {
		used[w] = true
	}
	kept := 0
	for _, r := range runs {
		switch {
		case activeIDs[r.JobID]:
			used[r.Workspace] = true
		case kept < keep:
			kept++
			used[r.Workspace] = true
		case !cutoff.IsZero() && r.FinishedAt.After(cutoff):
			used[r.Workspace] = true
		default:
			p.runs = append(p.runs, r)
		}
	}
	for _, r := range p.runs {
		if !used[r.Workspace] && defaultWorkspace(r) {
			p.workspaces[r.Workspace] = true
		}
	}
	return p
}

// defaultWorkspace reports whether a run's workspace is the one mzt made
// (<score dir>/workspaces/<id>): a workspace a score names may be the
// user's own folder, and clean never removes that.
func defaultWorkspace(r store.FinishedRun) bool {
	if r.Workspace == "" || r.ScorePath == "" || !filepath.IsAbs(r.Workspace) {
		return false
	}
	return filepath.Clean(r.Workspace) == filepath.Join(filepath.Dir(r.ScorePath), "workspaces", r.JobID)
}

// cleaned tags the store write of a clean.
type cleaned struct {
	plan   cleanPlan
	sender *actor.PID
}

func (a *Actor) clean(ctx actor.Context, m *messages.CleanRequest) {
	if m.GetKeep() < 0 || m.GetOlderThanSeconds() < 0 {
		ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "", "keep and older-than must not be negative"))
		return
	}
	var cutoff time.Time
	if d := m.GetOlderThanSeconds(); d > 0 {
		cutoff = time.Now().Add(-time.Duration(d * float64(time.Second)))
	}
	active := map[string]bool{}
	for id := range a.jobs {
		active[id] = true
	}
	for id := range a.reserved {
		active[id] = true
	}
	sender := ctx.Sender()
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		runs, activeWS, err := db.FinishedRuns(qctx)
		if err != nil {
			return nil, err
		}
		return planClean(runs, active, activeWS, cutoff, int(m.GetKeep())), nil
	}}, 30*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		qr, _ := res.(*store.QueryResult)
		if err == nil && qr.Err != nil {
			err = qr.Err
		}
		if err != nil {
			ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "clean: %v", err))
			return
		}
		plan := qr.Value.(cleanPlan)
		// A job submitted meanwhile takes its id out of the plan.
		kept := plan.runs[:0]
		for _, r := range plan.runs {
			if a.jobs[r.JobID] == nil && !a.reserved[r.JobID] {
				kept = append(kept, r)
			}
		}
		plan.runs = kept
		if m.GetDryRun() || len(plan.runs) == 0 {
			ctx.Respond(a.cleanResponse(plan, true, nil))
			return
		}
		keys := make([]string, len(plan.runs))
		for i, r := range plan.runs {
			keys[i] = r.RunKey
		}
		// The rows go first: a crash half-way leaves files without rows
		// (harmless), never rows whose files are gone.
		ctx.Send(a.deps.Store, &store.Write{Op: &store.DeleteRuns{RunKeys: keys}, ReplyTo: ctx.Self(),
			Tag: &cleaned{plan: plan, sender: sender}})
	})
}

// onCleaned removes the files of runs whose rows are gone, off the actor.
func (a *Actor) onCleaned(ctx actor.Context, c *cleaned, err error) {
	if c.sender == nil {
		return
	}
	if err != nil {
		ctx.Send(c.sender, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "clean: %v", err))
		return
	}
	logs := a.deps.Paths.SheetLogs
	mailbox.Go(ctx.ActorSystem().Root, c.sender, func() any {
		var problems []string
		for _, r := range c.plan.runs {
			if err := removeUnder(logs, filepath.Join(logs, r.RunKey)); err != nil {
				problems = append(problems, err.Error())
			}
		}
		for w := range c.plan.workspaces {
			if err := os.RemoveAll(w); err != nil {
				problems = append(problems, fmt.Sprintf("remove workspace %s: %v", w, err))
			}
		}
		return a.cleanResponse(c.plan, false, problems)
	}, func(err error) any {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "clean: %v", err)
	})
}

// removeUnder removes dir, which must lie inside root (a run key is ours,
// but a path is checked before anything is deleted).
func removeUnder(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return errors.New("refusing to remove " + dir + ": not inside " + root)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove logs %s: %w", dir, err)
	}
	return nil
}

func (a *Actor) cleanResponse(p cleanPlan, dry bool, problems []string) *messages.CleanResponse {
	out := &messages.CleanResponse{DryRun: dry, Errors: problems}
	for _, r := range p.runs {
		ws := ""
		if p.workspaces[r.Workspace] {
			ws = r.Workspace
		}
		out.Runs = append(out.Runs, &messages.CleanedRun{JobId: r.JobID, Run: int64(r.Run),
			FinishedAtUnixNano: unixNano(r.FinishedAt), Workspace: ws, LogDir: filepath.Join(a.deps.Paths.SheetLogs, r.RunKey)})
	}
	return out
}
