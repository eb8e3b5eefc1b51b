package cli

import (
	"context"
	"errors"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"golang.org/x/term"
)

// TopCmd is `mzt top`: a full-screen live view of the conductor, its jobs and
// their running sheets, with keys to pause, resume and cancel a job.
type TopCmd struct {
	Interval time.Duration `help:"How often to refresh the view." default:"1s"`
	Fleet    bool          `help:"Every fleet member's active jobs, in one table (top_fleet.go)."`
}

// How long one refresh or one action may take before it counts as failed.
const (
	topFetchTimeout   = 10 * time.Second
	topControlTimeout = 30 * time.Second
)

func (c *TopCmd) Run(g *Globals) error {
	if c.Interval < 100*time.Millisecond {
		return failf(exitUsage, "", "--interval must be at least 100ms")
	}
	if c.Fleet {
		return c.fleetTop(g)
	}
	// Off a terminal there is no screen to draw on and no keys to read:
	// refuse rather than spray escape codes into a pipe.
	if !isTerminal() || !term.IsTerminal(int(os.Stdin.Fd())) {
		return failf(exitUsage, "mzt status --watch, or mzt status --json", "mzt top needs a terminal")
	}
	deps := topDeps{
		fetch: func() (*messages.TopSnapshot, error) {
			ctx, cancel := context.WithTimeout(g.ctx, topFetchTimeout)
			defer cancel()
			return call[*messages.TopSnapshot](g, ctx, &messages.TopRequest{})
		},
		control: func(req *messages.JobControlRequest) (*messages.JobControlResponse, error) {
			ctx, cancel := context.WithTimeout(g.ctx, topControlTimeout)
			defer cancel()
			return call[*messages.JobControlResponse](g, ctx, req)
		},
	}
	// The first answer decides before the screen is taken: a conductor that
	// is not running (or too old to serve top) is said the usual way.
	first, err := deps.fetch()
	if errors.Is(err, client.ErrUnsupported) {
		return failf(exitFailed, "mzt restart (to run this version's conductor)", "this conductor does not serve mzt top")
	}
	if err != nil {
		return err
	}
	m := newTopModel(deps, c.Interval, lipgloss.NewRenderer(g.env.Stdout), first)
	// SIGTERM and SIGINT (g.ctx) quit the program the way q does. Not
	// bubbletea's own signal handler, nor tea.WithContext: with both, the
	// handler could block for ever sending to a loop the context had
	// stopped (Run never returned, one SIGTERM in three under tmux), and a
	// killed program closes its input while the reader still uses it (a
	// data race under -race).
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithoutSignalHandler(),
		tea.WithOutput(g.env.Stdout), tea.WithInput(os.Stdin))
	defer context.AfterFunc(g.ctx, p.Quit)()
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrInterrupted) {
		return err
	}
	return nil
}
