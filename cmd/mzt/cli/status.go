package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"golang.org/x/term"
)

// StatusCmd is `mzt status [JOB]`.
type StatusCmd struct {
	Job   string `arg:"" optional:"" help:"Job id; without it, the table of active jobs."`
	JSON  bool   `help:"Print one JSON object."`
	Watch bool   `help:"Refresh until the job ends (or until interrupted)."`
}

func (c *StatusCmd) Run(g *Globals) error {
	if c.Watch {
		return c.watch(g)
	}
	return c.once(g)
}

func (c *StatusCmd) once(g *Globals) error {
	if c.Job == "" {
		return (&ListCmd{JSON: c.JSON}).Run(g)
	}
	st, err := jobStatus(g, c.Job)
	if err != nil {
		return err
	}
	if c.JSON {
		return g.printJSON(jobStatusJSON(st))
	}
	var b strings.Builder
	writeJobDetail(&b, st)
	g.printf("%s", newTextStyles(g.env.Stdout).paint(b.String()))
	return nil
}

func jobStatus(g *Globals, id string) (*messages.JobStatus, error) {
	st, err := call[*messages.JobStatus](g, g.ctx, &messages.JobStatusRequest{JobId: id})
	if errors.Is(err, client.ErrJobNotFound) {
		return nil, failf(exitFailed, "mzt list --all", "job %s not found", id)
	}
	return st, err
}

func isTerminal() bool { return term.IsTerminal(int(os.Stdout.Fd())) }

// watch redraws the view every second; on a terminal it repaints in place,
// elsewhere it prints each snapshot.
func (c *StatusCmd) watch(g *Globals) error {
	tty := isTerminal() && !c.JSON
	for {
		if tty {
			g.printf("\033[H\033[2J")
		}
		if err := c.once(g); err != nil {
			return err
		}
		if c.Job != "" {
			st, err := jobStatus(g, c.Job)
			if err != nil {
				return err
			}
			if finished(st.GetJob().GetStatus()) {
				return nil
			}
		}
		if !tty {
			g.printf("\n")
		}
		select {
		case <-g.ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// ListCmd is `mzt list`.
type ListCmd struct {
	All  bool `help:"Include finished jobs."`
	JSON bool `help:"Print one JSON object."`
}

func (c *ListCmd) Run(g *Globals) error {
	list, err := call[*messages.JobList](g, g.ctx, &messages.ListJobsRequest{All: c.All})
	if err != nil {
		return err
	}
	if c.JSON {
		jobs := make([]jobJSON, 0, len(list.GetJobs()))
		for _, j := range list.GetJobs() {
			jobs = append(jobs, toJobJSON(j))
		}
		return g.printJSON(struct {
			Schema string    `json:"schema"`
			Jobs   []jobJSON `json:"jobs"`
		}{schema, jobs})
	}
	var b strings.Builder
	writeJobTableWith(&b, list.GetJobs(), c.All)
	g.printf("%s", newTextStyles(g.env.Stdout).paint(b.String()))
	return nil
}

// controlCmd is what pause, resume and cancel share.
func control(g *Globals, id string, action messages.JobAction, jsonOut bool, verb string) error {
	return controlRequest(g, &messages.JobControlRequest{JobId: id, Action: action}, jsonOut, verb)
}

func controlRequest(g *Globals, req *messages.JobControlRequest, jsonOut bool, verb string) error {
	id, action := req.GetJobId(), req.GetAction()
	resp, err := call[*messages.JobControlResponse](g, g.ctx, req)
	if errors.Is(err, client.ErrJobNotFound) {
		return failf(exitFailed, "mzt list --all", "job %s not found", id)
	}
	if err != nil {
		return err
	}
	status := resp.GetStatus()
	if action == messages.JobAction_JOB_ACTION_CANCEL {
		// Cancel returns once nothing of the job runs any more.
		deadline := time.Now().Add(time.Minute)
		for !finished(status) && time.Now().Before(deadline) && g.ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			st, err := jobStatus(g, id)
			if err != nil {
				return err
			}
			status = st.GetJob().GetStatus()
		}
	}
	if jsonOut {
		return g.printJSON(struct {
			Schema string `json:"schema"`
			ID     string `json:"id"`
			Status string `json:"status"`
		}{schema, id, status})
	}
	g.printf("job %s %s (status: %s)\n", id, verb, status)
	return nil
}

// PauseCmd is `mzt pause JOB`.
type PauseCmd struct {
	Job  string `arg:"" help:"Job id."`
	JSON bool   `help:"Print one JSON object."`
}

func (c *PauseCmd) Run(g *Globals) error {
	return control(g, c.Job, messages.JobAction_JOB_ACTION_PAUSE, c.JSON, "paused")
}

// ResumeCmd is `mzt resume JOB`.
type ResumeCmd struct {
	Job    string `arg:"" help:"Job id."`
	JSON   bool   `help:"Print one JSON object."`
	Budget string `help:"Raise the job's budget by this many US dollars, e.g. +5." placeholder:"+USD"`
}

func (c *ResumeCmd) Run(g *Globals) error {
	req := &messages.JobControlRequest{JobId: c.Job, Action: messages.JobAction_JOB_ACTION_RESUME}
	if c.Budget != "" {
		add, err := parseBudgetRaise(c.Budget)
		if err != nil {
			return err
		}
		req.BudgetAddUsd = add
	}
	return controlRequest(g, req, c.JSON, "resumed")
}

// CancelCmd is `mzt cancel JOB`.
type CancelCmd struct {
	Job  string `arg:"" help:"Job id."`
	JSON bool   `help:"Print one JSON object."`
}

func (c *CancelCmd) Run(g *Globals) error {
	return control(g, c.Job, messages.JobAction_JOB_ACTION_CANCEL, c.JSON, "cancelled")
}

var _ = fmt.Sprint
