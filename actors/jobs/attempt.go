package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/internal/tryjournal"
)

// attemptPlan is everything one attempt needs, computed on the job actor
// (cheap) and carried to the goroutine that runs it.
type attemptPlan struct {
	num, try, attempt int
	prompt            string
	profile           *instrument.Profile
	model             string
	workspace         string
	env               []string
	timeout           time.Duration
	killGrace         time.Duration
	base              string // the try's files: base.stdout, .stderr, .exit, .snapshot, .prompt
	checks            []sheetrun.Check
	token             string             // MZT_SHEET_TOKEN of this try
	tracker           *reaper.Tracker    // nil in tests
	cgroups           *cgroup.Tree       // nil where cgroup v2 is not usable
	logCap            int64              // max_log_mb in bytes; 0: no cap
	sup               *supervisor.Client // forks the try so it outlives the conductor; nil: run it here
	handover          <-chan struct{}    // closed: stop following the try, leave it running
	worktree          *worktree          // the voice's git worktree, made before the try; nil: none
	session           string             // the agent session a retry continues (resume_session)
	// orphanAfter: the supervisor stops the try this long after this
	// conductor is gone (a fleet job: before its lease lets another member
	// run it); 0: never.
	orphanAfter time.Duration
	log         *slog.Logger // nil in tests
}

// attemptStarted reports the live process of an attempt (for crash cleanup).
type attemptStarted struct {
	num, try int
	proc     sheetrun.Proc
}

// attemptDone reports how an attempt ended.
type attemptDone struct {
	num, try int
	result   sheetrun.Result
	checks   []sheetrun.CheckResult
	class    sheetrun.Class
	wait     time.Duration // rate-limit reset parsed from the output (0 = unknown)
	usage    sheetrun.Usage
	err      error // could not even be attempted (prompt file, workspace)
	// unrenderable: its prompt or validations could not be rendered.
	unrenderable bool
}

// attemptRunner runs one attempt; tests and benchmarks substitute their own.
type attemptRunner func(ctx context.Context, plan attemptPlan, started func(sheetrun.Proc), done func(*attemptDone))

// exitWrapper runs the instrument under /bin/sh, which opens its output files
// (named in MZT_OUT and MZT_ERR) and writes its exit code to MZT_EXIT the
// moment it exits. If the conductor dies before it records the attempt, the
// next start still knows that the attempt ended and how, and settles it
// instead of running the sheet twice. The files are opened in the child, not
// in the conductor: a conductor that creates files while it forks contends
// with itself for its own fd table. They are created 0600 (umask 077); the
// instrument gets the conductor's own umask (MZT_UMASK) back, in the child
// the shell forks anyway.
const exitWrapper = `umask 077; (umask "$MZT_UMASK"; exec "$@") >"$MZT_OUT" 2>"$MZT_ERR"; c=$?; echo "$c" >"$MZT_EXIT"; exit "$c"`

// conductorUmask is the umask the conductor started with, in octal.
var conductorUmask = sync.OnceValue(func() string {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "022"
})

// wrap returns the argv that runs argv with its output in files and its exit
// code recorded. (Folding this into a `bash -c` instrument's own shell saves
// a process but not time, and bash runs an EXIT trap even when killed,
// recording a kill as an exit: a crash would then skip an unfinished try.)
func wrap(argv []string) []string {
	return append([]string{"/bin/sh", "-c", exitWrapper, "mzt-sheet"}, argv...)
}

// runAttempt executes plan; it never panics out and always reports exactly once.
func runAttempt(ctx context.Context, plan attemptPlan, started func(sheetrun.Proc), done func(*attemptDone)) {
	out := &attemptDone{num: plan.num, try: plan.try}
	defer func() {
		if r := recover(); r != nil {
			out.err = fmt.Errorf("attempt panicked: %v", r)
		}
		done(out)
	}()
	if plan.worktree != nil {
		if err := plan.worktree.ensure(ctx); err != nil {
			out.err = err
			return
		}
	}
	// A workspace removed under a running job is recreated rather than
	// failing every remaining sheet for a reason the user did not choose.
	if err := os.MkdirAll(plan.workspace, 0o755); err != nil {
		out.err = fmt.Errorf("workspace %s: %w", plan.workspace, err)
		return
	}
	// The rendered prompt of every try is kept beside its logs (mzt logs
	// --prompt): in the run's prompts journal, an append, rather than a
	// file per try (creating a file costs more than a short try's whole
	// run); the file is made from the journal when someone asks for it.
	// An instrument with prompt_via = "file" reads it from its own file.
	if err := os.MkdirAll(filepath.Dir(plan.base), 0o755); err != nil {
		out.err = fmt.Errorf("log folder: %w", err)
		return
	}
	promptFile := ""
	if plan.profile.PromptVia == instrument.PromptViaFile {
		promptFile = plan.base + ".prompt"
		if err := os.WriteFile(promptFile, []byte(plan.prompt), 0o600); err != nil {
			out.err = fmt.Errorf("write prompt file: %w", err)
			return
		}
	} else if err := tryjournal.AppendPrompt(plan.base+".prompt", []byte(plan.prompt)); err != nil {
		out.err = fmt.Errorf("record prompt: %w", err)
		return
	}
	argv, stdin := plan.profile.Command(plan.prompt, plan.model, promptFile)
	argv = plan.profile.WithSession(argv, plan.session)
	env := append(plan.env, reaper.TokenEnv+"="+plan.token) // validations' commands carry it too
	exe, err := sheetrun.LookPath(argv[0], env)
	if err != nil {
		out.err = fmt.Errorf("instrument %s: %w", plan.profile.Name, err)
		return
	}
	argv[0] = exe
	// One argument may not exceed 128 KiB: a long shell script goes in a file.
	if argv, err = sheetrun.ShortenArgv(argv, plan.base+".script"); err != nil {
		out.err = fmt.Errorf("instrument %s: %w", plan.profile.Name, err)
		return
	}
	before := sheetrun.TakeSnapshot(plan.workspace, plan.checks)
	if len(before) > 0 {
		// Kept for a restart that has to settle this attempt (file_modified).
		if data, err := json.Marshal(before); err == nil {
			os.WriteFile(plan.base+".snapshot", data, 0o600)
		}
	}
	track := started
	if plan.tracker != nil {
		plan.tracker.SheetStarting(plan.token)
		// Told before anything else happens: the reaper must know this
		// leader (never reap it) and this token (its escapees are live).
		track = func(p sheetrun.Proc) {
			plan.tracker.SheetStarted(plan.token, p.PID)
			started(p)
		}
		defer plan.tracker.SheetEnded(plan.token)
	}
	if err := os.MkdirAll(filepath.Dir(plan.base), 0o755); err != nil {
		out.err = fmt.Errorf("log folder: %w", err)
		return
	}
	// Before the process starts: a file it writes is never older than these.
	if err := markFreshness(plan.base, plan.checks, true); err != nil {
		out.err = err
		return
	}
	spec := sheetrun.Spec{
		Argv: wrap(argv), Stdin: stdin, Dir: plan.workspace,
		Env:     append(env, "MZT_OUT="+plan.base+".stdout", "MZT_ERR="+plan.base+".stderr", "MZT_EXIT="+plan.base+".exit", "MZT_UMASK="+conductorUmask()),
		Timeout: plan.timeout, KillGrace: plan.killGrace,
		SuccessCodes: plan.profile.Errors.SuccessExitCodes,
		Started:      track,
		LogCap:       plan.logCap, CappedLogs: []string{plan.base + ".stdout", plan.base + ".stderr"},
	}
	var cg *cgroup.Sheet
	if plan.cgroups != nil {
		// Everything the try starts stays in its cgroup, which dies with it.
		if c, err := plan.cgroups.NewSheet(strings.ReplaceAll(plan.token, "/", "_")); err == nil {
			cg = c
			spec.UseCgroup, spec.CgroupFD = true, cg.FD()
			defer func() {
				if errors.Is(out.result.Err, errHandedOver) {
					return // its cgroup goes on holding it, for the next conductor
				}
				if err := cg.Kill(); err != nil {
					out.err = errors.Join(out.err, err)
				}
			}()
		}
	}
	if plan.sup != nil {
		// The supervisor forks the instrument itself, with its files: no wrapper.
		direct := spec
		direct.Argv, direct.Env = argv, env
		direct.StdoutPath, direct.StderrPath = plan.base+".stdout", plan.base+".stderr"
		cgDir := ""
		if cg != nil {
			cgDir = cg.Dir()
		}
		var ok bool
		guard := newOrphanGuard(plan.orphanAfter, plan.killGrace)
		if out.result, ok = runSupervised(ctx, plan.sup, direct, plan.token, plan.base+".exit", cgDir, plan.handover, guard, plan.log); !ok {
			out.result = sheetrun.Run(ctx, spec) // no supervisor answers: run it ourselves
		}
	} else {
		out.result = sheetrun.Run(ctx, spec)
	}
	if cg != nil && !out.result.Success && out.result.Err == nil {
		// A failure the try's own limits caused says so.
		if hit := cg.LimitHit(); hit != "" {
			out.result.Err = errors.New(hit)
		}
	}
	if errors.Is(out.result.Err, errHandedOver) {
		return
	}
	out.result.StdoutTail = sheetrun.Tail(plan.base+".stdout", sheetrun.TailSize)
	out.result.StderrTail = sheetrun.Tail(plan.base+".stderr", sheetrun.TailSize)
	judge(ctx, plan, env, before, out)
}

// judge reads what an ended attempt left (usage, error class) and runs the
// validations of one that succeeded.
func judge(ctx context.Context, plan attemptPlan, env []string, before sheetrun.Snapshot, out *attemptDone) {
	r := out.result
	if r.Err != nil || r.Canceled {
		return
	}
	if plan.profile.OutputFormat != "" && plan.profile.OutputFormat != instrument.OutputText {
		if u, err := sheetrun.ParseOutput(plan.profile.OutputFormat, plan.base+".stdout"); err == nil {
			out.usage = u
		}
	}
	if !r.Success || out.usage.IsError {
		rl, auth := compileAll(plan.profile.Errors.RateLimitPatterns), compileAll(plan.profile.Errors.AuthPatterns)
		out.class, out.wait = sheetrun.Classify(out.usage.ErrorText, r.StderrTail, rl, auth, time.Now())
		return
	}
	out.checks = sheetrun.Validate(ctx, plan.workspace, env, plan.checks, before)
}

// settleExited finishes an attempt whose process ended while no conductor
// was there to see it: its exit code is in the exit file, its output in the
// log files; the validations run now.
func settleExited(ctx context.Context, plan attemptPlan, code int, startedAt time.Time, done func(*attemptDone)) {
	out := &attemptDone{num: plan.num, try: plan.try}
	defer func() {
		if r := recover(); r != nil {
			out.err = fmt.Errorf("settling attempt panicked: %v", r)
		}
		done(out)
	}()
	ended := time.Now()
	if e, ok := readExit(plan.base); ok && !e.Ended.IsZero() {
		ended = e.Ended
	}
	out.result = sheetrun.Result{
		ExitCode: code, Started: startedAt, Ended: ended,
		Success:    slices.Contains(successCodes(plan.profile.Errors.SuccessExitCodes), code),
		StdoutTail: sheetrun.Tail(plan.base+".stdout", sheetrun.TailSize),
		StderrTail: sheetrun.Tail(plan.base+".stderr", sheetrun.TailSize),
	}
	before := sheetrun.Snapshot{}
	if data, err := os.ReadFile(plan.base + ".snapshot"); err == nil {
		json.Unmarshal(data, &before)
	}
	// The markers were made before the process started; one that is gone
	// cannot be made again now without calling the try's own files stale.
	if err := markFreshness(plan.base, plan.checks, false); err != nil {
		out.err = err
		return
	}
	judge(ctx, plan, append(plan.env, reaper.TokenEnv+"="+plan.token), before, out)
}

func successCodes(c []int) []int {
	if len(c) == 0 {
		return []int{0}
	}
	return c
}

// readExit finds an attempt's exit record: its own exit file (written by
// the in-conductor wrapper, and by supervisors older than the journal),
// else its record in the run's journal.
func readExit(base string) (tryjournal.Exit, bool) {
	if e, found, ok := readExitFile(base); found {
		return e, ok
	}
	return tryjournal.FindExit(filepath.Join(filepath.Dir(base), tryjournal.Name), filepath.Base(base)+".exit")
}

// readExitFile reads an attempt's own exit file; found is false when there
// is none, ok false when it does not hold a code.
func readExitFile(base string) (e tryjournal.Exit, found, ok bool) {
	data, err := os.ReadFile(base + ".exit")
	if err != nil {
		return e, false, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return e, true, false
	}
	e.Code = code
	if fi, err := os.Stat(base + ".exit"); err == nil {
		e.Ended = fi.ModTime()
	}
	return e, true, true
}

// runExits finds the exit codes of many tries of one run (recovery),
// reading the run's journal once: it holds the prompts too, and may be
// large. ok is false when the try did not end (or ended by a signal before
// the in-conductor wrapper could write).
type runExits struct {
	journal map[string]tryjournal.Exit // nil until first needed
}

func (r *runExits) code(base string) (int, bool) {
	if e, found, ok := readExitFile(base); found {
		return e.Code, ok
	}
	if r.journal == nil {
		r.journal = tryjournal.ReadExits(filepath.Join(filepath.Dir(base), tryjournal.Name))
	}
	e, ok := r.journal[filepath.Base(base)+".exit"]
	return e.Code, ok
}

func compileAll(patterns []string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, 0, len(patterns))
	for _, p := range patterns {
		if re, err := regexp.Compile("(?i)" + p); err == nil { // validated at load; skip defensively
			out = append(out, re)
		}
	}
	return out
}

// backoffDelay is the wait after the nth counted failure (n >= 1); with
// jitter on, jitter (in [0, 1)) takes up to half of it off.
func backoffDelay(b *score.Backoff, n int, jitter float64) time.Duration {
	d := float64(b.Base) * math.Pow(b.Factor, float64(n-1))
	d = math.Min(d, float64(b.Max))
	if b.Jitter != nil && *b.Jitter {
		d *= 0.5 + jitter/2
	}
	return time.Duration(d)
}

// buildPrompt renders the stage's prompt; non-raw instruments get the
// preamble and the validation checklist around it.
func buildPrompt(sc *score.Score, sh score.Sheet, data score.TemplateData, raw bool, lastError string,
	checks []sheetrun.Check, attempts int) (string, error) {
	body, err := score.Render(fmt.Sprintf("stage %s prompt", sh.Stage.ID), sh.Stage.PromptText, data)
	if err != nil {
		return "", err
	}
	if raw {
		return body, nil
	}
	var b strings.Builder
	b.WriteString("<mzt-preamble>\n")
	fmt.Fprintf(&b, "You are sheet %d of %d of job %q (stage %s", sh.Num, data.TotalSheets, data.JobID, sh.Stage.ID)
	if sh.VoiceCount > 1 {
		fmt.Fprintf(&b, ", voice %d of %d", sh.Voice, sh.VoiceCount)
	}
	b.WriteString(").\n")
	fmt.Fprintf(&b, "Your workspace is %s: write every output there.\n", data.Workspace)
	b.WriteString("Leave no background process running when you finish.\n")
	if data.Attempt > 1 {
		fmt.Fprintf(&b, "This is attempt %d of %d. The previous attempt failed: %s\n", data.Attempt, attempts, lastError)
	}
	b.WriteString("</mzt-preamble>\n\n")
	b.WriteString(body)
	if len(checks) > 0 {
		b.WriteString("\n\nYour work is checked when you finish; all of these must hold:\n")
		for _, c := range checks {
			b.WriteString("- " + describeCheck(c) + "\n")
		}
	}
	return b.String(), nil
}

func describeCheck(c sheetrun.Check) string {
	switch c.Type {
	case score.FileExists:
		return fmt.Sprintf("the file %s exists", c.Path)
	case score.FileModified:
		return fmt.Sprintf("the file %s is created or changed by you", c.Path)
	case score.ContentContains:
		return fmt.Sprintf("the file %s contains %q", c.Path, c.Contains)
	case score.ContentRegex:
		return fmt.Sprintf("the file %s matches the regular expression %s", c.Path, c.Pattern)
	case score.Command:
		return fmt.Sprintf("the command `%s` succeeds in the workspace", c.Run)
	}
	return c.Type
}

// renderChecks renders a stage's validations for one sheet.
func renderChecks(st *score.Stage, data score.TemplateData) ([]sheetrun.Check, error) {
	out := make([]sheetrun.Check, 0, len(st.Validate))
	for i, v := range st.Validate {
		name := fmt.Sprintf("stage %s validation %d", st.ID, i+1)
		var c sheetrun.Check
		c.Type, c.Timeout = v.Type, time.Duration(v.Timeout)
		if v.Since == score.SinceRun || v.Since == score.SinceTry {
			c.SinceWhat = v.Since // Since itself is set when the try starts
		}
		if c.Timeout == 0 && v.Type == score.Command {
			c.Timeout = score.DefaultCommandTimeout
		}
		for _, f := range []struct {
			dst *string
			src string
		}{{&c.Path, v.Path}, {&c.Pattern, v.Pattern}, {&c.Contains, v.Contains}, {&c.Run, v.Run}} {
			if f.src == "" {
				continue
			}
			s, err := score.Render(name, f.src, data)
			if err != nil {
				return nil, err
			}
			*f.dst = s
		}
		out = append(out, c)
	}
	return out, nil
}

// sheetEnv is the environment of a sheet: the conductor's, then the score's,
// then the instrument's, then what mzt tells every sheet about itself.
func sheetEnv(base []string, sc *score.Score, sh score.Sheet, p *instrument.Profile, jobID string) []string {
	env := append([]string{}, base...)
	for k, v := range sh.Stage.Env {
		env = append(env, k+"="+v)
	}
	for k, v := range p.Env {
		env = append(env, k+"="+os.ExpandEnv(v))
	}
	return append(env,
		"MZT_JOB_ID="+jobID,
		fmt.Sprintf("MZT_SHEET=%d", sh.Num),
		"MZT_STAGE="+sh.Stage.ID,
		fmt.Sprintf("MZT_VOICE=%d", sh.Voice),
		"MZT_WORKSPACE="+sc.Workspace,
	)
}

// attemptBase is the common stem of one try's files: one flat folder per
// run, because creating a folder per sheet costs as much as running a
// trivial one.
func attemptBase(logDir string, num, try int) string {
	return filepath.Join(logDir, fmt.Sprintf("sheet-%d.try-%d", num, try))
}

// attemptPaths are where one try's output goes.
func attemptPaths(logDir string, num, try int) (stdout, stderr string) {
	base := attemptBase(logDir, num, try)
	return base + ".stdout", base + ".stderr"
}
