package cli

import (
	"github.com/mzt-dev/mzt/messages"
)

// RerunFlags are mzt run's flags that reuse the job's latest run.
type RerunFlags struct {
	FromStage string `name:"from-stage" placeholder:"STAGE" xor:"rerun" help:"Reuse the completed, unchanged sheets of the job's latest run before STAGE; run STAGE, what depends on it and what follows."`
	OnlyStage string `name:"only-stage" placeholder:"STAGE" xor:"rerun" help:"Reuse the job's latest run; run only STAGE (and what the edit changed)."`
}

// RetryCmd is `mzt retry JOB --sheet N`.
type RetryCmd struct {
	Job        string `arg:"" help:"Job id."`
	Sheet      int    `required:"" help:"The sheet to run again (its number in mzt status JOB)."`
	Downstream bool   `help:"Also run again every sheet that depends on it."`
	Wait       bool   `help:"Show progress until the job ends; exit 0 only if it completed."`
	JSON       bool   `help:"Print one JSON object."`
}

func (c *RetryCmd) Run(g *Globals) error {
	if c.Sheet < 1 {
		return failf(exitUsage, "mzt status "+c.Job, "--sheet must be 1 or more, not %d", c.Sheet)
	}
	return resubmit(g, c.Job, c.Wait, c.JSON, func(req *messages.SubmitJobRequest) {
		req.RetrySheet, req.Downstream = int64(c.Sheet), c.Downstream
	})
}

// resubmit reads the job's score file again (it may have been edited since)
// and submits it as a re-run of the job's latest run.
func resubmit(g *Globals, id string, wait, asJSON bool, set func(*messages.SubmitJobRequest)) error {
	st, err := jobStatus(g, id)
	if err != nil {
		return err
	}
	if status := st.GetJob().GetStatus(); !finished(status) {
		// A re-run is a new run made from a finished one.
		return failf(exitFailed, "wait for it to end, or mzt cancel "+id+" first", "job %s is %s: only a finished job can be run again this way", id, status)
	}
	path := st.GetJob().GetScorePath()
	if path == "" {
		return failf(exitFailed, "mzt run SCORE --id "+id, "job %s does not say where its score file is", id)
	}
	sc, err := loadScore(g, path, id)
	if err != nil {
		return err
	}
	req := &messages.SubmitJobRequest{ScorePath: sc.Path, ScoreSource: sc.Source, JobId: id, ClientCwd: cwd()}
	set(req)
	return submit(g, sc, req, wait, asJSON)
}

// printRerun says what a re-run reuses and what changed in the score.
func printRerun(g *Globals, resp *messages.SubmitJobResponse) {
	if !resp.GetRerun() {
		return
	}
	g.printf("re-run of job %s: reusing %d of %d sheets of run %d\n", resp.GetJobId(), resp.GetSheetsKept(),
		resp.GetSheetsTotal(), resp.GetPreviousRun())
	for _, c := range resp.GetStageChanges() {
		switch c.GetChange() {
		case "changed":
			g.printf("  stage %s: changed (%s -> %s)\n", c.GetStage(), c.GetOldHash(), c.GetNewHash())
		case "added":
			g.printf("  stage %s: added (%s)\n", c.GetStage(), c.GetNewHash())
		case "removed":
			g.printf("  stage %s: removed (was %s)\n", c.GetStage(), c.GetOldHash())
		default:
			g.printf("  stage %s: unchanged (%s)\n", c.GetStage(), c.GetNewHash())
		}
	}
}

// rerunJSON is what mzt run --json adds for a re-run.
type rerunJSON struct {
	PreviousRun  int64             `json:"previous_run"`
	SheetsKept   int64             `json:"sheets_kept"`
	StageChanges []stageChangeJSON `json:"stage_changes"`
}

type stageChangeJSON struct {
	Stage   string `json:"stage"`
	Change  string `json:"change"`
	OldHash string `json:"old_hash"`
	NewHash string `json:"new_hash"`
}

func toRerunJSON(resp *messages.SubmitJobResponse) *rerunJSON {
	if !resp.GetRerun() {
		return nil
	}
	out := &rerunJSON{PreviousRun: resp.GetPreviousRun(), SheetsKept: resp.GetSheetsKept(), StageChanges: []stageChangeJSON{}}
	for _, c := range resp.GetStageChanges() {
		out.StageChanges = append(out.StageChanges, stageChangeJSON{c.GetStage(), c.GetChange(), c.GetOldHash(), c.GetNewHash()})
	}
	return out
}
