package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/tryjournal"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/messages"
)

// A re-run is a new run of a job that reuses sheets of its latest run: the
// edited score is submitted again, the earlier run stays in history with
// every try and log, and only what has to runs. A reused sheet is copied
// into the new run (and its logs linked), so the new run stands alone.

// rerunMode is what a re-run asks for; the zero value is a plain run.
type rerunMode struct {
	fromStage, onlyStage string
	retrySheet           int
	downstream, rescore  bool
}

func rerunModeOf(req *messages.SubmitJobRequest) rerunMode {
	return rerunMode{fromStage: req.GetFromStage(), onlyStage: req.GetOnlyStage(), retrySheet: int(req.GetRetrySheet()),
		downstream: req.GetDownstream(), rescore: req.GetRescore()}
}

func (m rerunMode) active() bool {
	return m.fromStage != "" || m.onlyStage != "" || m.retrySheet > 0 || m.rescore
}

// keepsUnfinished: the sheets a retry or an only-stage run does not name
// keep their outcome, failed or not; a from-stage run or a rescore runs
// whatever did not complete.
func (m rerunMode) keepsUnfinished() bool { return m.retrySheet > 0 || m.onlyStage != "" }

// rerunPlan is the outcome of planRerun.
type rerunPlan struct {
	keep    map[int]store.SheetRow // sheet number in the new run -> the earlier run's row to copy
	changes []*messages.StageChange
}

// planRerun decides, for each sheet of the new score, whether the new run
// reuses the earlier run's sheet of the same stage and voice or runs it.
// A sheet runs when its stage is new or its definition changed, when a
// stage it depends on runs for that reason, when the mode names it, and
// (from-stage, rescore) when it did not complete. old is nil when the
// earlier run's score no longer parses: then every stage counts as changed.
func planRerun(sc, old *score.Score, oldRows []store.SheetRow, m rerunMode) (rerunPlan, error) {
	plan := rerunPlan{keep: map[int]store.SheetRow{}}
	oldHash := map[string]string{}
	if old != nil {
		for i, st := range old.Stages {
			oldHash[st.ID] = old.StageHash(i)
		}
	}
	n := len(sc.Stages)
	dirty := make([]bool, n)
	seen := map[string]bool{}
	for i, st := range sc.Stages {
		h := sc.StageHash(i)
		seen[st.ID] = true
		c := &messages.StageChange{Stage: st.ID, NewHash: h, OldHash: oldHash[st.ID], Change: "unchanged"}
		switch oh, ok := oldHash[st.ID]; {
		case !ok:
			c.Change, dirty[i] = "added", true
		case oh != h:
			c.Change, dirty[i] = "changed", true
		}
		plan.changes = append(plan.changes, c)
	}
	if old != nil {
		for i, st := range old.Stages {
			if !seen[st.ID] {
				plan.changes = append(plan.changes, &messages.StageChange{Stage: st.ID, OldHash: old.StageHash(i), Change: "removed"})
			}
		}
	}
	// What a changed stage produces feeds every stage downstream of it:
	// one pass in dependency order, so a long chain costs its length.
	for _, layer := range sc.Order() {
		for _, id := range layer {
			i := sc.StageIndex(id)
			for _, d := range sc.Stages[i].DependsOn {
				if k := sc.StageIndex(d); k >= 0 && dirty[k] {
					dirty[i] = true
				}
			}
		}
	}

	type key struct {
		stage string
		voice int
	}
	byKey := make(map[key]store.SheetRow, len(oldRows))
	byNum := make(map[int]store.SheetRow, len(oldRows))
	for _, r := range oldRows {
		byKey[key{r.Stage, r.Voice}] = r
		byNum[r.Num] = r
	}

	forcedStage := make([]bool, n)
	var forcedSheet *key
	switch {
	case m.fromStage != "":
		s := sc.StageIndex(m.fromStage)
		if s < 0 {
			return plan, sc.UnknownStage(m.fromStage)
		}
		down := sc.Dependents(s)
		for i := range n {
			forcedStage[i] = i >= s || down[i]
		}
	case m.onlyStage != "":
		s := sc.StageIndex(m.onlyStage)
		if s < 0 {
			return plan, sc.UnknownStage(m.onlyStage)
		}
		forcedStage[s] = true
	case m.retrySheet > 0:
		r, ok := byNum[m.retrySheet]
		if !ok {
			return plan, fmt.Errorf("the latest run has no sheet %d (it has %d)", m.retrySheet, len(oldRows))
		}
		s := sc.StageIndex(r.Stage)
		if s < 0 || r.Voice > sc.Stages[s].Voices {
			return plan, fmt.Errorf("sheet %d (stage %s, voice %d) is no longer in the score", r.Num, r.Stage, r.Voice)
		}
		forcedSheet = &key{r.Stage, r.Voice}
		if m.downstream {
			forcedStage = sc.Dependents(s)
		}
	}

	for _, sh := range sc.Sheets() {
		i, k := sh.StageIndex, key{sh.Stage.ID, sh.Voice}
		r, ok := byKey[k]
		if !ok || dirty[i] || forcedStage[i] || (forcedSheet != nil && *forcedSheet == k) {
			continue
		}
		switch r.Status {
		case messages.SheetCompleted:
		case messages.SheetFailed, messages.SheetSkipped, messages.SheetCancelled:
			if !m.keepsUnfinished() {
				continue
			}
		default:
			continue
		}
		plan.keep[sh.Num] = r
	}
	return plan, nil
}

// keptRow is the earlier run's row of a reused sheet, as a row of the new
// run with the new sheet number.
func keptRow(r store.SheetRow, runKey string, num int) store.SheetRow {
	r.RunKey, r.Num = runKey, num
	r.PID, r.PGID, r.ProcStart = 0, 0, 0
	r.WaitingUntil = time.Time{}
	return r
}

// rerun is a planned re-run, made off the mailbox with the submission.
type rerun struct {
	plan     rerunPlan
	previous int    // the earlier run's number
	runKey   string // of the new run, whose log folder holds the reused sheets' logs
}

func (r *rerun) kept(num int) (store.SheetRow, bool) {
	if r == nil {
		return store.SheetRow{}, false
	}
	row, ok := r.plan.keep[num]
	return row, ok
}

// describe adds what the re-run changed and reuses to the answer.
func (r *rerun) describe(resp *messages.SubmitJobResponse) {
	if r == nil {
		return
	}
	resp.Rerun, resp.PreviousRun = true, int64(r.previous)
	resp.StageChanges, resp.SheetsKept = r.plan.changes, int64(len(r.plan.keep))
}

// rerunInputError is a re-run asking for what the score or run does not
// have (an unknown stage, a sheet number out of range): bad input.
type rerunInputError struct{ error }

// errNoEarlierRun: there is nothing to reuse.
type errNoEarlierRun struct{ id string }

func (e errNoEarlierRun) Error() string {
	return fmt.Sprintf("job %s has no earlier run to reuse sheets from", e.id)
}

// submitError is the answer to a submission that could not be planned.
func submitError(err error) *messages.Error {
	var in rerunInputError
	var none errNoEarlierRun
	switch {
	case errors.As(err, &none):
		return messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt run SCORE (without a re-run flag) runs it from the start", "%v", err)
	case errors.As(err, &in):
		return messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "mzt status JOB lists the sheets and stages of its latest run", "%v", err)
	}
	return messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "mzt validate SCORE", "%v", err)
}

// prepareRerun reads the job's latest run, plans the re-run against it and
// links the reused sheets' logs into the new run's folder. It runs off the
// mailbox (it waits on the store and touches files).
func prepareRerun(root *actor.RootContext, db *actor.PID, sc *score.Score, m rerunMode, instrumentsDir, logRoot string) (*rerun, error) {
	id := sc.ID
	f := root.RequestFuture(db, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		run, ok, err := db.LatestRun(qctx, id)
		if !ok || err != nil {
			return nil, err
		}
		return run, nil
	}}, 10*time.Second)
	res, err := f.Result()
	if err != nil {
		return nil, fmt.Errorf("read the latest run of job %s: %w", id, err)
	}
	qr, _ := res.(*store.QueryResult)
	switch {
	case qr == nil:
		return nil, fmt.Errorf("read the latest run of job %s: unexpected answer %T", id, res)
	case qr.Err != nil:
		return nil, fmt.Errorf("read the latest run of job %s: %w", id, qr.Err)
	case qr.Value == nil:
		return nil, errNoEarlierRun{id}
	}
	prev := qr.Value.(store.Run)
	old := prepare(prev, instrumentsDir).Score // nil when it no longer parses: every stage changed
	plan, err := planRerun(sc, old, prev.Sheets, m)
	if err != nil {
		return nil, rerunInputError{err}
	}
	r := &rerun{plan: plan, previous: prev.Job.Run, runKey: id + "." + strconv.FormatInt(time.Now().UnixNano(), 36)}
	linkKeptLogs(filepath.Join(logRoot, prev.Job.RunKey), filepath.Join(logRoot, r.runKey), plan.keep)
	return r, nil
}

// linkKeptLogs hard-links (else copies nothing: logs are a convenience)
// every try's files of each reused sheet into the new run's folder, under
// the sheet's new number, so mzt logs shows them; the earlier run's files
// stay as they were.
func linkKeptLogs(from, to string, keep map[int]store.SheetRow) {
	if len(keep) == 0 {
		return
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return
	}
	prompts := map[string]string{} // kept only in the earlier run's journal
	for num, r := range keep {
		for try := 1; try <= r.Tries; try++ {
			for _, ext := range []string{".stdout", ".stderr", ".exit", ".prompt"} {
				src, dst := attemptBase(from, r.Num, try)+ext, attemptBase(to, num, try)+ext
				if err := os.Link(src, dst); ext == ".prompt" && errors.Is(err, os.ErrNotExist) {
					prompts[filepath.Base(src)] = filepath.Base(dst)
				} // else a file the try never wrote is simply not there
			}
		}
	}
	// One read of the earlier journal and one append to the new one.
	_ = tryjournal.CarryPrompts(from, to, prompts)
}

// discardRerun removes the log folder a re-run that was not submitted had
// linked its reused logs into (off the mailbox).
func (a *Actor) discardRerun(ctx actor.Context, r *rerun) {
	if r == nil {
		return
	}
	dir, log := filepath.Join(a.deps.Paths.SheetLogs, r.runKey), a.log
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		os.RemoveAll(dir)
		return nil
	}, func(err error) any {
		log.Warn("could not remove the logs of a re-run that was not submitted", "dir", dir, "err", err)
		return nil
	})
}
