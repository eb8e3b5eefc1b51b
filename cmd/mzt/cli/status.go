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
	v, err := c.fetch(g)
	if err != nil {
		return err
	}
	return v.show()
}

// statusView is one read of what `mzt status` shows, printed by show (again
// and again on a terminal, whose clock moves the elapsed times).
type statusView struct {
	show func() error
	done bool // the job the view is about has ended
}

func (c *StatusCmd) fetch(g *Globals) (statusView, error) {
	if c.Job == "" {
		if c.Sheet != 0 {
			return statusView{}, failf(exitUsage, "mzt status JOB --sheet N", "--sheet needs a job")
		}
		l := &ListCmd{JSON: c.JSON}
		list, err := l.page(g)
		if err != nil {
			return statusView{}, err
		}
		return statusView{show: func() error { return l.print(g, list) }}, nil
	}
	if c.Sheet != 0 {
		// The sheet's detail is read and printed in one: it is shown again
		// on the next change only.
		shown := false
		return statusView{show: func() error {
			if shown {
				return nil
			}
			shown = true
			return sheetDetail(g, c.Job, c.Sheet, c.JSON)
		}}, nil
	}
	// The text view of a big job lists the sheets that need a look: the
	// conductor leaves the others out and counts them.
	st, err := jobStatusOf(g, &messages.JobStatusRequest{JobId: c.Job, Brief: !c.JSON && !c.AllSheets})
	if err != nil {
		return statusView{}, err
	}
	return statusView{done: finished(st.GetJob().GetStatus()), show: func() error {
		if c.JSON {
			return g.printJobStatusJSON(st)
		}
		var b strings.Builder
		shown, hidden := shownSheets(st, c.AllSheets)
		writeJobDetail(&b, &messages.JobStatus{Job: st.GetJob(), Sheets: shown})
		b.WriteString(hiddenSummary(hidden, c.Job))
		g.printf("%s", newTextStyles(g.env.Stdout).paint(b.String()))
		return nil
	}}, nil
}

func jobStatus(g *Globals, id string) (*messages.JobStatus, error) {
	return jobStatusOf(g, &messages.JobStatusRequest{JobId: id})
}

func jobStatusOf(g *Globals, req *messages.JobStatusRequest) (*messages.JobStatus, error) {
	st, err := call[*messages.JobStatus](g, g.ctx, req)
	if errors.Is(err, client.ErrJobNotFound) {
		return nil, failf(exitFailed, "mzt list --all", "job %s not found", req.GetJobId())
	}
	return st, err
}

func isTerminal() bool { return term.IsTerminal(int(os.Stdout.Fd())) }

// watch shows the view again whenever an event says something changed (at
// most every second) until the job ends; on a terminal it repaints in place
// (and every second, for the clock), elsewhere it prints each new snapshot.
func (c *StatusCmd) watch(g *Globals) error {
	rc := g.reconnector(c.Reconnect)
	return rc.run(g.ctx, func() error { return c.watchOnce(g, rc) })
}

func (c *StatusCmd) watchOnce(g *Globals, rc *reconnector) error {
	tty := isTerminal() && !c.JSON
	feed, err := g.followChanges(c.Job)
	if err != nil {
		return err
	}
	defer feed.close()
	changed, ended := feed.changed, feed.ended
	var poll, clock <-chan time.Time // poll: a conductor without events
	if tty {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		clock = t.C
	}
	pace := pacer{gap: time.Second}
	for {
		pace.fetched(time.Now())
		v, err := c.fetch(g)
		if err != nil {
			return err
		}
		if tty {
			g.printf("\033[H\033[2J")
		}
		if err := v.show(); err != nil {
			return err
		}
		rc.markReached()
		if c.Job != "" && v.done {
			return nil
		}
		if !tty {
			g.printf("\n")
		}
	wait:
		for {
			select {
			case <-g.ctx.Done():
				return nil
			case <-clock:
				g.printf("\033[H\033[2J")
				if err := v.show(); err != nil {
					return err
				}
			case <-poll:
				break wait
			case <-changed:
				if sleepCtx(g.ctx, pace.wait(time.Now())) != nil {
					return nil
				}
				break wait
			case <-ended:
				switch err := feed.why(); {
				case g.ctx.Err() != nil:
					return nil
				case noEvents(err):
					changed, ended = nil, nil
					t := time.NewTicker(pace.gap)
					defer t.Stop()
					poll = t.C
				default:
					return err
				}
			}
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
	list, err := c.page(g)
	if err != nil {
		return err
	}
	return c.print(g, list)
}

// page asks the conductor for the jobs to show.
func (c *ListCmd) page(g *Globals) (*messages.JobList, error) {
	limit := c.Limit
	switch {
	case limit < -1:
		return nil, failf(exitUsage, "", "--limit must be 0 or more, got %d", limit)
	case limit == -1 && c.JSON:
		limit = 0
	case limit == -1:
		limit = defaultListLimit
	}
	list, err := call[*messages.JobList](g, g.ctx, &messages.ListJobsRequest{All: c.All, Limit: uint32(min(limit, 1<<31)), Cursor: c.Cursor})
	var re *client.RemoteError
	if errors.As(err, &re) && re.Code == messages.ErrorCode_ERROR_CODE_BAD_REQUEST && c.Cursor != "" {
		return nil, failf(exitUsage, re.Hint, "%s", re.Message)
	}
	return list, err
}

func (c *ListCmd) print(g *Globals, list *messages.JobList) error {
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
