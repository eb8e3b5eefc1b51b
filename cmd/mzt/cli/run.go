package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/config/strict"
	"github.com/mzt-dev/mzt/messages"
	"golang.org/x/term"
)

// loadScore reads and validates a score the way the conductor will.
func loadScore(g *Globals, path, id string) (*score.Score, error) {
	sc, err := readScore(g, path, id)
	if err != nil {
		return nil, scoreError(g, path, err)
	}
	return sc, nil
}

// errInterrupted ends a command stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

// readScore reads and checks the score at path, returning its problems as
// they come (strict.Problems, score.ErrProfiles, score.ErrJobID, a read
// error, errInterrupted). Checking is bounded, but a large score still takes
// a while: SIGINT or SIGTERM ends the wait at once; the process exits right
// after, and the check with it.
func readScore(g *Globals, path, id string) (*score.Score, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("score %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read score: %w", err)
	}
	// A conductor on another host checks instrument names and the sheet
	// limit against its own settings; here only the local ones are known.
	opts := score.ReadOptions{InstrumentsDir: g.paths.Instruments, JobID: id, MaxSheets: score.NoSheetLimit}
	if g.Remote != "" {
		opts.AnyInstrument = true
	} else {
		opts.MaxSheets, opts.CheckRunnable = localMaxSheets(g), true
	}
	type result struct {
		sc  *score.Score
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("read score: %v", r)}
			}
		}()
		sc, _, err := score.Read(abs, data, opts)
		done <- result{sc, err}
	}()
	select {
	case r := <-done:
		return r.sc, r.err
	case <-g.ctx.Done():
		return nil, errInterrupted
	}
}

// localMaxSheets is the sheet limit of this home's conductor.toml, or the
// default when it has none (or cannot be read: start and config dump say why).
func localMaxSheets(g *Globals) int {
	cfg, err := config.Load(config.LoadOptions{File: g.paths.ConfigFile})
	if err != nil {
		return 0
	}
	return cfg.MaxSheetsPerJob
}

// scoreError says what readScore found, in the one way errors are said.
func scoreError(g *Globals, path string, err error) error {
	var ps strict.Problems
	switch {
	case errors.Is(err, errInterrupted):
		return failf(exitFailed, "", "interrupted while checking score %s", path)
	case errors.Is(err, score.ErrProfiles):
		return failf(exitUsage, "fix or remove the profile under "+g.paths.Instruments, "%v", err)
	case errors.Is(err, score.ErrJobID):
		return failf(exitUsage, "", "--id: %s", strings.TrimPrefix(err.Error(), score.ErrJobID.Error()+": "))
	case errors.As(err, &ps):
		return invalidScore(path, ps)
	default:
		return failf(exitUsage, "", "%v", err)
	}
}

func invalidScore(path string, ps strict.Problems) error {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "  " + p.String()
	}
	abs, _ := filepath.Abs(path)
	return failf(exitUsage, "", "invalid score %s:\n%s", abs, strings.Join(lines, "\n"))
}

// RunCmd is `mzt run SCORE`.
type RunCmd struct {
	Scores []string `arg:"" name:"score" help:"The score file (TOML); several, or - to read their paths from stdin, submit them all over one connection."`
	Wait   bool     `help:"Show progress until the job ends; exit 0 only if it completed."`
	// Reconnect bounds how long --wait waits for a conductor that went away.
	Reconnect time.Duration `help:"With --wait: how long to wait for a conductor that went away (0: give up at once)." default:"60s" placeholder:"DURATION"`
	ID        string        `name:"id" help:"Job id (default: the score's id, else its file name)."`
	JSON      bool          `help:"Print one JSON object."`
	Fleet     bool          `help:"Queue the job for the fleet ([fleet] etcd): a member with free capacity runs it (also [run] placement = \"fleet\")."`
	Rerun     RerunFlags    `embed:""`
	queueFlags
}

func (c *RunCmd) Run(g *Globals) error {
	if c.AfterAny && len(c.After) == 0 {
		return failf(exitUsage, "mzt run SCORE --after JOB --after-any", "--after-any needs --after")
	}
	if len(c.Scores) != 1 || c.Scores[0] == "-" {
		return c.runBatch(g)
	}
	g.waitReconnect = &c.Reconnect
	return c.runOne(g, c.Scores[0])
}

func (c *RunCmd) runOne(g *Globals, path string) error {
	sc, err := loadScore(g, path, c.ID)
	if err != nil {
		return err
	}
	req := &messages.SubmitJobRequest{ScorePath: sc.Path, ScoreSource: sc.Source, JobId: c.ID, ClientCwd: cwd(),
		FromStage: c.Rerun.FromStage, OnlyStage: c.Rerun.OnlyStage,
		Priority: c.Priority, Group: c.Group, After: dedupe(c.After), AfterAny: c.AfterAny, Fleet: c.Fleet || sc.Fleet}
	return submit(g, sc, req, c.Wait, c.JSON)
}

// submit sends a score to the conductor and, with wait, follows the job.
func submit(g *Globals, sc *score.Score, req *messages.SubmitJobRequest, wait, asJSON bool) error {
	var err error
	if g.Remote != "" || req.Fleet {
		if req.Files, err = promptFiles(sc); err != nil {
			return err
		}
	}
	resp, err := call[*messages.SubmitJobResponse](g, g.ctx, req)
	switch {
	case errors.Is(err, client.ErrAlreadyActive):
		return failf(exitFailed, "mzt status "+sc.ID+", or mzt run --id NEW_ID", "job %s is already active", sc.ID)
	case err != nil:
		return err
	}
	id := resp.GetJobId()
	if !asJSON {
		printRerun(g, resp)
	}
	if !wait {
		if asJSON {
			return g.printJSON(struct {
				Schema      string `json:"schema"`
				ID          string `json:"id"`
				Status      string `json:"status"`
				SheetsTotal int64  `json:"sheets_total"`
				*rerunJSON
			}{schema, id, resp.GetStatus(), resp.GetSheetsTotal(), toRerunJSON(resp)})
		}
		g.printf("submitted job %s\n", id)
		return nil
	}
	if !asJSON {
		g.printf("submitted job %s\n", id)
	}
	st, err := waitJob(g, id, !asJSON)
	if err != nil {
		return err
	}
	if asJSON {
		if err := g.printJobStatusJSON(st); err != nil {
			return err
		}
	}
	if st.GetJob().State() != messages.JobCompleted {
		return &cliError{code: exitFailed}
	}
	return nil
}

func cwd() string {
	d, _ := os.Getwd()
	return d
}

// waitJob polls the job until it ends, showing progress: a bar redrawn in
// place on a terminal, a line per change elsewhere.
func waitJob(g *Globals, id string, show bool) (st *messages.JobStatus, err error) {
	bound := defaultReconnect
	if g.waitReconnect != nil {
		bound = *g.waitReconnect
	}
	// The job was just submitted: the conductor has answered.
	rc := g.reconnector(bound)
	rc.markReached()
	err = rc.run(g.ctx, func() error {
		var werr error
		st, werr = waitJobOnce(g, id, show)
		return werr
	})
	return st, err
}

// waitJobOnce shows the job's progress until it ends. It reads the status
// when an event says the job changed (at most every 200 ms), not on a
// timer: a job whose sheets run for an hour costs no reads meanwhile. On a
// terminal the line's clock is redrawn every second from the last read.
func waitJobOnce(g *Globals, id string, show bool) (*messages.JobStatus, error) {
	tty := show && isTerminal()
	last := ""
	feed, err := g.followChanges(id)
	if err != nil {
		return nil, err
	}
	defer feed.close()
	changed, ended := feed.changed, feed.ended
	var poll <-chan time.Time // set when the conductor has no event stream
	var clock <-chan time.Time
	if tty {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		clock = t.C
	}
	stopped := func() error {
		if tty {
			g.printf("\n")
		}
		return failf(exitFailed, "mzt status "+id, "stopped waiting; job %s goes on in the conductor", id)
	}
	pace := pacer{gap: 200 * time.Millisecond}
	for {
		pace.fetched(time.Now())
		st, err := jobStatus(g, id)
		if err != nil {
			return nil, err
		}
		j := st.GetJob()
		line := fmt.Sprintf("job %s: %s · %d/%d sheets completed", id, j.GetStatus(), j.GetSheetsCompleted(), j.GetSheetsTotal())
		if j.GetSheetsFailed() > 0 {
			line += fmt.Sprintf(" · %d failed", j.GetSheetsFailed())
		}
		// The ETA is shown but is no change of its own: off a terminal a
		// line is printed when the progress changes, not every tick.
		eta := ""
		if e := etaPhrase(j); e != "" {
			eta = " · " + e
		}
		redraw := func() {
			g.printf("\r\033[K%s", fitTerminal(fmt.Sprintf("%s %s · %s%s", bar(j.GetSheetsCompleted(), j.GetSheetsTotal(), 12),
				line, humanDuration(elapsed(j)), eta)))
		}
		switch {
		case tty:
			redraw()
		case show && line != last:
			g.printf("%s%s\n", line, eta)
		}
		last = line
		if finished(j.GetStatus()) {
			if tty {
				g.printf("\n")
			}
			if show {
				g.printf("job %s %s after %s · %s\n", id, j.GetStatus(), humanDuration(elapsed(j)), jobCost(j))
				if j.GetError() != "" {
					g.printf("  %s\n", j.GetError())
				}
				writeFailedSheets(g.env.Stdout, st.GetSheets())
			}
			return st, nil
		}
		if budgetPaused(j) {
			if tty {
				g.printf("\n")
			}
			which := "its budget"
			if !overOwnBudget(j) {
				which = "the conductor's daily budget"
			}
			return nil, failf(exitFailed, budgetTry(j), "job %s paused at %s (%s); it waits for a resume", id, which, jobCost(j))
		}
	wait:
		for {
			select {
			case <-g.ctx.Done():
				return nil, stopped()
			case <-clock:
				redraw()
			case <-poll:
				break wait
			case <-changed:
				if err := sleepCtx(g.ctx, pace.wait(time.Now())); err != nil {
					return nil, stopped()
				}
				break wait
			case <-ended:
				switch err := feed.why(); {
				case g.ctx.Err() != nil:
					return nil, stopped()
				case noEvents(err):
					changed, ended = nil, nil
					t := time.NewTicker(pace.gap)
					defer t.Stop()
					poll = t.C
				default:
					return nil, err
				}
			}
		}
	}
}

// fitTerminal cuts a line redrawn in place to the terminal's width: a line
// that wrapped would leave a copy of itself on every redraw.
func fitTerminal(s string) string {
	w, _, err := term.GetSize(int(os.Stdout.Fd()))
	if err != nil || w <= 1 {
		return s
	}
	if r := []rune(s); len(r) > w-1 {
		return string(r[:w-2]) + "…"
	}
	return s
}

func bar(done, total int64, width int) string {
	if total <= 0 {
		total = 1
	}
	n := int(int64(width) * done / total)
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", width-n) + "]"
}

// ValidateCmd is `mzt validate SCORE`.
type ValidateCmd struct {
	Score string `arg:"" help:"The score file (TOML)." type:"path"`
	JSON  bool   `help:"Print one JSON object."`
}

type stageJSON struct {
	ID         string   `json:"id"`
	Voices     int      `json:"voices"`
	DependsOn  []string `json:"depends_on"`
	Instrument string   `json:"instrument"`
}

func (c *ValidateCmd) Run(g *Globals) error {
	sc, err := readScore(g, c.Score, "")
	if err != nil {
		shown := scoreError(g, c.Score, err)
		if c.JSON {
			var ce *cliError
			errors.As(shown, &ce)
			if err := g.printJSON(invalidJSON{Schema: schema, Valid: false, Error: ce.msg, Errors: problemsJSON(c.Score, err, ce)}); err != nil {
				return err
			}
			return &cliError{code: ce.code}
		}
		return shown
	}
	if c.JSON {
		stages := make([]stageJSON, len(sc.Stages))
		for i, st := range sc.Stages {
			stages[i] = stageJSON{ID: st.ID, Voices: st.Voices, DependsOn: append([]string{}, st.DependsOn...), Instrument: st.Instrument}
		}
		return g.printJSON(struct {
			Schema    string      `json:"schema"`
			Valid     bool        `json:"valid"`
			ID        string      `json:"id"`
			Name      string      `json:"name"`
			Workspace string      `json:"workspace"`
			Sheets    int         `json:"sheets"`
			Stages    []stageJSON `json:"stages"`
			Order     [][]string  `json:"order"`
		}{schema, true, sc.ID, sc.Name, sc.Workspace, sc.TotalSheets(), stages, sc.Order()})
	}
	g.printf("score %s is valid: job %s, %d stages, %d sheets\n", c.Score, sc.ID, len(sc.Stages), sc.TotalSheets())
	layers := make([]string, 0)
	for _, layer := range sc.Order() {
		layers = append(layers, strings.Join(layer, " + "))
	}
	g.printf("order: %s\n", strings.Join(layers, " -> "))
	for _, st := range sc.Stages {
		deps := "none"
		if len(st.DependsOn) > 0 {
			deps = strings.Join(st.DependsOn, ", ")
		}
		inst := st.Instrument
		if len(st.Instruments) > 0 {
			inst = strings.Join(st.Instruments, " + ") // one per voice
		}
		g.printf("  %-16s %d sheet(s) · %s · after %s\n", st.ID, st.Voices, inst, deps)
	}
	return nil
}

// invalidJSON is mzt validate --json for a score with problems: error is
// every problem in one string, errors each on its own.
type invalidJSON struct {
	Schema string        `json:"schema"`
	Valid  bool          `json:"valid"`
	Error  string        `json:"error"`
	Errors []problemJSON `json:"errors"`
}

type problemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`   // 0 when unknown
	Column  int    `json:"column"` // 0 when unknown
	Key     string `json:"key"`    // such as "stage[1].attempts"; "" when not about a key
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// problemsJSON lists what readScore found: each problem of the score, or
// the one error that stopped it.
func problemsJSON(path string, err error, shown *cliError) []problemJSON {
	var ps strict.Problems
	if !errors.As(err, &ps) {
		return []problemJSON{{File: path, Message: shown.msg, Hint: shown.hint}}
	}
	out := make([]problemJSON, len(ps))
	for i, p := range ps {
		out[i] = problemJSON{File: p.File, Line: p.Line, Column: p.Col, Key: p.Key, Message: p.Msg}
	}
	return out
}

// promptFiles reads the prompt files a score names, for a conductor on
// another host: they travel with the score, by their path relative to it.
func promptFiles(sc *score.Score) ([]*messages.ScoreFile, error) {
	var files []*messages.ScoreFile
	seen := map[string]bool{}
	for _, st := range sc.Stages {
		p := st.PromptFile
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		clean := filepath.Clean(p)
		if filepath.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return nil, failf(exitUsage, "put the prompt file beside the score, or inline it with prompt =",
				"stage %s: prompt_file %s is outside the score's folder, which is all that is sent to another host", st.ID, p)
		}
		data, err := os.ReadFile(filepath.Join(sc.Dir, clean))
		if err != nil {
			return nil, failf(exitUsage, "", "stage %s: %v", st.ID, err)
		}
		files = append(files, &messages.ScoreFile{Path: clean, Content: data})
	}
	return files, nil
}
