package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
)

// controlFlags are what pause, resume and cancel share: one or more ids, or
// --all narrowed by --status and --group.
type controlFlags struct {
	Jobs   []string `arg:"" optional:"" name:"job" help:"Job ids."`
	All    bool     `help:"Every job matching --status and --group (without --status: every job the action applies to)."`
	Status string   `help:"With --all: only jobs in this state (queued, running, paused, completed, failed, cancelled)."`
	Group  string   `help:"With --all: only jobs of this group."`
	JSON   bool     `help:"Print one JSON object."`
	// budgetAdd raises each job's budget on resume (--budget).
	budgetAdd float64 `kong:"-"`
}

// PauseCmd is `mzt pause JOB...`.
type PauseCmd struct{ controlFlags }

func (c *PauseCmd) Run(g *Globals) error {
	return c.run(g, messages.JobAction_JOB_ACTION_PAUSE, "paused")
}

// ResumeCmd is `mzt resume JOB...`.
type ResumeCmd struct {
	controlFlags
	Rescore bool   `help:"Read the score file again: a new run reuses completed sheets whose stage is unchanged and runs the rest (one job)."`
	Budget  string `help:"Raise the jobs' budget by this many US dollars, e.g. +5." placeholder:"+USD"`
}

func (c *ResumeCmd) Run(g *Globals) error {
	if c.Budget != "" {
		add, err := parseBudgetRaise(c.Budget)
		if err != nil {
			return err
		}
		c.budgetAdd = add
	}
	if c.Rescore {
		if c.All || len(c.Jobs) != 1 {
			return failf(exitUsage, "mzt resume JOB --rescore", "--rescore takes exactly one job id")
		}
		return resubmit(g, c.Jobs[0], false, c.JSON, func(req *messages.SubmitJobRequest) { req.Rescore = true })
	}
	return c.run(g, messages.JobAction_JOB_ACTION_RESUME, "resumed")
}

// CancelCmd is `mzt cancel JOB...`.
type CancelCmd struct{ controlFlags }

func (c *CancelCmd) Run(g *Globals) error {
	return c.run(g, messages.JobAction_JOB_ACTION_CANCEL, "cancelled")
}

// controlResult is what one id's request came to.
type controlResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// Notes say what the action did not do (a kept rate-limit reset, ...).
	Notes []string `json:"notes,omitempty"`
	cause error    // what the conductor said, with its hint
}

func (c *controlFlags) run(g *Globals, action messages.JobAction, verb string) error {
	ids, err := c.targets(g, action)
	if err != nil {
		return err
	}
	results := make([]controlResult, len(ids))
	for i, id := range ids {
		results[i] = controlOne(g, &messages.JobControlRequest{JobId: id, Action: action, BudgetAddUsd: c.budgetAdd})
	}
	if action == messages.JobAction_JOB_ACTION_CANCEL {
		// Cancel returns once nothing of the jobs runs any more; the
		// requests went out first so that they stop in parallel.
		for i := range results {
			waitCancelled(g, &results[i])
		}
	}
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
		}
	}
	if c.JSON {
		if err := c.printJSON(g, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.Error != "" {
				if len(ids) > 1 {
					fmt.Fprintf(g.env.Stderr, "Error: %s\n", r.Error)
				}
				continue
			}
			g.printf("job %s %s (status: %s)\n", r.ID, verb, r.Status)
			for _, n := range r.Notes {
				g.printf("  %s\n", n)
			}
		}
	}
	switch {
	case failed == 0:
		return nil
	case len(ids) == 1 && !c.JSON:
		// One id: the conductor's own words and next step.
		r := results[0]
		if r.cause == nil || errors.Is(r.cause, client.ErrJobNotFound) {
			return failf(exitFailed, "mzt list --all", "%s", r.Error)
		}
		return r.cause
	default:
		return &cliError{code: exitFailed}
	}
}

func (c *controlFlags) printJSON(g *Globals, results []controlResult) error {
	if len(results) == 1 && !c.All {
		r := results[0]
		return g.printJSON(struct {
			Schema string `json:"schema"`
			ID     string `json:"id"`
			Status string `json:"status"`
			Error  string `json:"error,omitempty"`
		}{schema, r.ID, r.Status, r.Error})
	}
	return g.printJSON(struct {
		Schema string          `json:"schema"`
		Jobs   []controlResult `json:"jobs"`
	}{schema, results})
}

// targets are the ids named, or with --all those the conductor lists that
// match the filters.
func (c *controlFlags) targets(g *Globals, action messages.JobAction) ([]string, error) {
	switch {
	case c.All && len(c.Jobs) > 0:
		return nil, failf(exitUsage, "", "give job ids or --all, not both")
	case !c.All && (c.Status != "" || c.Group != ""):
		return nil, failf(exitUsage, "mzt cancel --all --status queued", "--status and --group select jobs for --all")
	case !c.All && len(c.Jobs) == 0:
		return nil, failf(exitUsage, "mzt cancel JOB... or mzt cancel --all", "name at least one job, or --all")
	case !c.All:
		return dedupe(c.Jobs), nil
	}
	if c.Status != "" && !messages.JobState(c.Status).Valid() {
		return nil, failf(exitUsage, "", "unknown status %q: one of queued, running, paused, completed, failed, cancelled", c.Status)
	}
	list, err := call[*messages.JobList](g, g.ctx, &messages.ListJobsRequest{All: c.Status != "" && messages.JobState(c.Status).Terminal()})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, j := range list.GetJobs() {
		if selected(j, action, c.Status, c.Group) {
			ids = append(ids, j.GetId())
		}
	}
	if len(ids) == 0 {
		return nil, failf(exitFailed, "mzt list --all", "no job matches")
	}
	return ids, nil
}

// selected says whether --all picks job j for action: the state named by
// --status, or else every job the action applies to.
func selected(j *messages.JobInfo, action messages.JobAction, status, group string) bool {
	if group != "" && j.GetGroup() != group {
		return false
	}
	if status != "" {
		return j.GetStatus() == status
	}
	st := messages.JobState(j.GetStatus())
	switch action {
	case messages.JobAction_JOB_ACTION_RESUME:
		return st == messages.JobPaused
	default:
		return !st.Terminal() && (action != messages.JobAction_JOB_ACTION_PAUSE || st != messages.JobPaused)
	}
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	var out []string
	for _, id := range ids {
		for _, part := range strings.Split(id, ",") {
			if part = strings.TrimSpace(part); part != "" && !seen[part] {
				seen[part] = true
				out = append(out, part)
			}
		}
	}
	return out
}

func controlOne(g *Globals, req *messages.JobControlRequest) controlResult {
	id := req.GetJobId()
	resp, err := call[*messages.JobControlResponse](g, g.ctx, req)
	switch {
	case errors.Is(err, client.ErrJobNotFound):
		return controlResult{ID: id, Error: fmt.Sprintf("job %s not found", id), cause: err}
	case err != nil:
		return controlResult{ID: id, Error: fmt.Sprintf("job %s: %v", id, err), cause: err}
	}
	return controlResult{ID: id, Status: resp.GetStatus(), Notes: resp.GetNotes()}
}

func waitCancelled(g *Globals, r *controlResult) {
	if r.Error != "" {
		return
	}
	deadline := time.Now().Add(time.Minute)
	for !finished(r.Status) && time.Now().Before(deadline) && g.ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		st, err := jobStatus(g, r.ID)
		if err != nil {
			r.Error = fmt.Sprintf("job %s: %v", r.ID, err)
			return
		}
		r.Status = st.GetJob().GetStatus()
	}
}
