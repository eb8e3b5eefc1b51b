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
	Sheet int    `help:"Detail of one sheet: every try with its outcome, validations, prompt and log paths." placeholder:"N"`
	// A big job's text view lists only the sheets that need a look.
	AllSheets bool          `name:"all-sheets" help:"List every sheet of a big job, completed and pending ones too (--json always does)."`
	Reconnect time.Duration `help:"With --watch: how long to wait for a conductor that went away (0: give up at once)." default:"60s" placeholder:"DURATION"`
}

func (c *StatusCmd) Run(g *Globals) error {
	if c.Watch {
		return c.watch(g)
	}
	return c.once(g)
}

func (c *StatusCmd) once(g *Globals) error {
	if c.Job == "" {
		if c.Sheet != 0 {
			return failf(exitUsage, "mzt status JOB --sheet N", "--sheet needs a job")
		}
		return (&ListCmd{JSON: c.JSON}).Run(g)
	}
	if c.Sheet != 0 {
		return sheetDetail(g, c.Job, c.Sheet, c.JSON)
	}
	st, err := jobStatus(g, c.Job)
	if err != nil {
		return err
	}
	if c.JSON {
		return g.printJobStatusJSON(st)
	}
	var b strings.Builder
	shown, hidden := shownSheets(st.GetSheets(), c.AllSheets)
	writeJobDetail(&b, &messages.JobStatus{Job: st.GetJob(), Sheets: shown})
	b.WriteString(hiddenSummary(hidden, c.Job))
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
	rc := g.reconnector(c.Reconnect)
	return rc.run(g.ctx, func() error { return c.watchOnce(g, rc) })
}

func (c *StatusCmd) watchOnce(g *Globals, rc *reconnector) error {
	tty := isTerminal() && !c.JSON
	for {
		if tty {
			g.printf("\033[H\033[2J")
		}
		if err := c.once(g); err != nil {
			return err
		}
		rc.markReached()
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
	All    bool   `help:"Include finished jobs."`
	JSON   bool   `help:"Print one JSON object."`
	Limit  int    `help:"Show the newest N jobs (default: 50 as text, every job with --json; 0: every job)." default:"-1" placeholder:"N"`
	Cursor string `help:"Show the jobs older than this cursor (printed with a page that has more)."`
}

// defaultListLimit is how many jobs the text view shows: a long history is
// paged, not printed whole.
const defaultListLimit = 50

func (c *ListCmd) Run(g *Globals) error {
	limit := c.Limit
	switch {
	case limit < -1:
		return failf(exitUsage, "", "--limit must be 0 or more, got %d", limit)
	case limit == -1 && c.JSON:
		limit = 0
	case limit == -1:
		limit = defaultListLimit
	}
	list, err := call[*messages.JobList](g, g.ctx, &messages.ListJobsRequest{All: c.All, Limit: uint32(min(limit, 1<<31)), Cursor: c.Cursor})
	var re *client.RemoteError
	if errors.As(err, &re) && re.Code == messages.ErrorCode_ERROR_CODE_BAD_REQUEST && c.Cursor != "" {
		return failf(exitUsage, re.Hint, "%s", re.Message)
	}
	if err != nil {
		return err
	}
	if c.JSON {
		return g.printJobListJSON(list)
	}
	var b strings.Builder
	writeJobTableWith(&b, list.GetJobs(), c.All)
	if n := list.GetOlder(); n > 0 {
		fmt.Fprintf(&b, "... and %d older (mzt list --cursor %s%s, or --limit 0 for all)\n", n, list.GetNextCursor(), allFlag(c.All))
	}
	g.printf("%s", newTextStyles(g.env.Stdout).paint(b.String()))
	return nil
}

func allFlag(all bool) string {
	if all {
		return " --all"
	}
	return ""
}

var _ = fmt.Sprint
