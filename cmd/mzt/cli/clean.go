package cli

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"golang.org/x/term"
)

// CleanCmd is `mzt clean`: remove finished runs with their logs and
// workspaces. Runs of an active job are never touched.
type CleanCmd struct {
	OlderThan string `help:"Only runs that finished longer ago than this (7d, 12h, 30m)." placeholder:"AGE"`
	Keep      int    `help:"Keep the newest N finished runs." placeholder:"N"`
	Yes       bool   `short:"y" help:"Do not ask (required off a terminal)."`
	DryRun    bool   `help:"Only list what would be removed."`
	JSON      bool   `help:"Print one JSON object."`
}

// parseAge reads 7d, 36h, 90m or any Go duration.
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err == nil && n >= 0 && n < 1e5 {
			return time.Duration(n * 24 * float64(time.Hour)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--older-than %q: use an age such as 7d, 12h or 30m", s)
	}
	return d, nil
}

func (c *CleanCmd) Run(g *Globals) error {
	req := &messages.CleanRequest{Keep: int64(c.Keep), DryRun: true}
	if c.Keep < 0 {
		return failf(exitUsage, "", "--keep %d: give a number of runs, 0 or more", c.Keep)
	}
	if c.OlderThan != "" {
		d, err := parseAge(c.OlderThan)
		if err != nil {
			return failf(exitUsage, "", "%v", err)
		}
		req.OlderThanSeconds = d.Seconds()
	}
	plan, err := call[*messages.CleanResponse](g, g.ctx, req)
	if err != nil {
		return err
	}
	if len(plan.GetRuns()) == 0 || c.DryRun {
		return c.report(g, plan)
	}
	if !c.Yes {
		if !isTerminal() || !term.IsTerminal(int(os.Stdin.Fd())) {
			return failf(exitFailed, "mzt clean --yes", "%d finished run(s) would be removed; not on a terminal, so nothing was asked or removed",
				len(plan.GetRuns()))
		}
		c.list(g, plan, "would remove")
		g.printf("Remove these %d run(s) with their logs and workspaces? [y/N] ", len(plan.GetRuns()))
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			g.printf("nothing removed\n")
			return nil
		}
	}
	req.DryRun = false
	done, err := call[*messages.CleanResponse](g, g.ctx, req)
	if err != nil {
		return err
	}
	if err := c.report(g, done); err != nil {
		return err
	}
	if len(done.GetErrors()) > 0 {
		return failf(exitFailed, "", "some files could not be removed:\n  %s", strings.Join(done.GetErrors(), "\n  "))
	}
	return nil
}

type cleanedJSON struct {
	ID         string  `json:"id"`
	Run        int64   `json:"run"`
	FinishedAt *string `json:"finished_at"`
	Workspace  *string `json:"workspace"` // removed with the run; null: kept (not the default, or still used)
	LogDir     string  `json:"log_dir"`
}

func (c *CleanCmd) report(g *Globals, r *messages.CleanResponse) error {
	if c.JSON {
		runs := []cleanedJSON{}
		for _, x := range r.GetRuns() {
			j := cleanedJSON{ID: x.GetJobId(), Run: x.GetRun(), FinishedAt: rfc3339(x.GetFinishedAtUnixNano()), LogDir: x.GetLogDir()}
			if x.GetWorkspace() != "" {
				j.Workspace = ptr(x.GetWorkspace())
			}
			runs = append(runs, j)
		}
		return g.printJSON(struct {
			Schema  string        `json:"schema"`
			DryRun  bool          `json:"dry_run"`
			Removed []cleanedJSON `json:"runs"`
			Errors  []string      `json:"errors"`
		}{schema, r.GetDryRun(), runs, append([]string{}, r.GetErrors()...)})
	}
	if len(r.GetRuns()) == 0 {
		g.printf("nothing to clean\n")
		return nil
	}
	verb := "removed"
	if r.GetDryRun() {
		verb = "would remove"
	}
	c.list(g, r, verb)
	return nil
}

func (c *CleanCmd) list(g *Globals, r *messages.CleanResponse, verb string) {
	for _, x := range r.GetRuns() {
		ws := "workspace kept"
		if x.GetWorkspace() != "" {
			ws = "workspace " + x.GetWorkspace()
		}
		g.printf("%s %s run %d (finished %s) · logs · %s\n", verb, x.GetJobId(), x.GetRun(), clock(x.GetFinishedAtUnixNano()), ws)
	}
}
