package jobs

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/sheetrun"
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
	stdoutPath        string
	stderrPath        string
	checks            []sheetrun.Check
	token             string          // MZT_SHEET_TOKEN of this try
	tracker           *reaper.Tracker // nil in tests
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
}

// attemptRunner runs one attempt; tests and benchmarks substitute their own.
type attemptRunner func(ctx context.Context, plan attemptPlan, started func(sheetrun.Proc), done func(*attemptDone))

// runAttempt executes plan; it never panics out and always reports exactly once.
func runAttempt(ctx context.Context, plan attemptPlan, started func(sheetrun.Proc), done func(*attemptDone)) {
	out := &attemptDone{num: plan.num, try: plan.try}
	defer func() {
		if r := recover(); r != nil {
			out.err = fmt.Errorf("attempt panicked: %v", r)
		}
		done(out)
	}()
	// A workspace removed under a running job is recreated rather than
	// failing every remaining sheet for a reason the user did not choose.
	if err := os.MkdirAll(plan.workspace, 0o755); err != nil {
		out.err = fmt.Errorf("workspace %s: %w", plan.workspace, err)
		return
	}
	promptFile := ""
	if plan.profile.PromptVia == instrument.PromptViaFile {
		promptFile = plan.stdoutPath[:len(plan.stdoutPath)-len(".stdout")] + ".prompt"
		if err := os.WriteFile(promptFile, []byte(plan.prompt), 0o600); err != nil {
			out.err = fmt.Errorf("write prompt file: %w", err)
			return
		}
	}
	argv, stdin := plan.profile.Command(plan.prompt, plan.model, promptFile)
	before := sheetrun.TakeSnapshot(plan.workspace, plan.checks)
	env := append(plan.env, reaper.TokenEnv+"="+plan.token) // validations' commands carry it too
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
	out.result = sheetrun.Run(ctx, sheetrun.Spec{
		Argv: argv, Stdin: stdin, Dir: plan.workspace, Env: env,
		Timeout: plan.timeout, KillGrace: plan.killGrace,
		StdoutPath: plan.stdoutPath, StderrPath: plan.stderrPath,
		SuccessCodes: plan.profile.Errors.SuccessExitCodes,
		Started:      track,
	})
	r := out.result
	if r.Err != nil || r.Canceled {
		return
	}
	if plan.profile.OutputFormat != "" && plan.profile.OutputFormat != instrument.OutputText {
		if u, err := sheetrun.ParseOutput(plan.profile.OutputFormat, plan.stdoutPath); err == nil {
			out.usage = u
		}
	}
	if !r.Success || out.usage.IsError {
		rl, auth := compileAll(plan.profile.Errors.RateLimitPatterns), compileAll(plan.profile.Errors.AuthPatterns)
		out.class, out.wait = sheetrun.Classify(r.StdoutTail, r.StderrTail, rl, auth, time.Now())
		return
	}
	out.checks = sheetrun.Validate(ctx, plan.workspace, env, plan.checks, before)
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

// backoffDelay is the wait after the nth counted failure (n >= 1).
func backoffDelay(b *score.Backoff, n int) time.Duration {
	d := float64(b.Base) * math.Pow(b.Factor, float64(n-1))
	d = math.Min(d, float64(b.Max))
	if b.Jitter != nil && *b.Jitter {
		d *= 0.5 + rand.Float64()/2
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

// attemptPaths are where one try's output goes: one flat folder per run,
// because creating a folder per sheet costs as much as running a trivial one.
func attemptPaths(logDir string, num, try int) (stdout, stderr string) {
	base := filepath.Join(logDir, fmt.Sprintf("sheet-%d.try-%d", num, try))
	return base + ".stdout", base + ".stderr"
}
