// Package instrument owns instrument profiles: how to start one agent CLI (or
// bash) for one sheet attempt, and how to read its failures. It holds the four
// built-in profiles, loads user profiles from <home>/instruments/*.toml (which
// override built-ins of the same name), validates them, and builds the argv and
// stdin of an attempt.
//
// It never starts a process: running, timing out and killing belong to the
// conductor.
package instrument

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/mzt-dev/mzt/config/strict"
)

// Ways of handing the prompt to the executable (Profile.PromptVia).
const (
	PromptViaStdin = "stdin" // written to the process's stdin, then stdin is closed
	PromptViaArg   = "arg"   // substituted for {prompt} in args
	PromptViaFile  = "file"  // written to a file whose path is substituted for {prompt_file}
)

// Output formats (Profile.OutputFormat): how the conductor reads a successful
// attempt's stdout to find the agent's answer (the "Output" that later stages
// see as .Prev.<stage>.Output).
const (
	// OutputText: stdout is the answer, as is. The default.
	OutputText = "text"
	// OutputClaudeJSON: stdout is the single JSON object printed by
	// `claude -p --output-format json`; the answer is its "result" field and
	// "is_error": true marks a failed run even when the exit code is 0.
	OutputClaudeJSON = "claude-json"
	// OutputCodexJSONL: stdout is the JSON-lines event stream of
	// `codex exec --json`; the answer is the text of the last
	// "item.completed" event whose item is an "agent_message".
	OutputCodexJSONL = "codex-jsonl"
	// OutputGeminiJSON: stdout is what `gemini --output-format json` (one
	// pretty-printed object) or `stream-json` (events, a "result" last)
	// prints; the answer is "response" (or the assistant messages), the
	// tokens come from "stats".
	OutputGeminiJSON = "gemini-json"
)

// Placeholders substituted in args and model_args by Command.
const (
	PlaceholderSession    = "{session}" // in resume_args
	PlaceholderPrompt     = "{prompt}"
	PlaceholderPromptFile = "{prompt_file}"
	PlaceholderModel      = "{model}"
)

// Profile describes one instrument. The TOML keys are those of a user profile
// file (<home>/instruments/NAME.toml).
type Profile struct {
	Name       string   `toml:"name"`
	Executable string   `toml:"executable"` // a name looked up on PATH, or an absolute path
	Args       []string `toml:"args"`
	// ModelArgs are added only when a sheet sets a model. They go after Args,
	// or just before the last arg when that is the positional prompt ("-",
	// "{prompt}" or "{prompt_file}"), since CLIs take options before it.
	ModelArgs []string `toml:"model_args"`
	PromptVia string   `toml:"prompt_via"` // stdin | arg | file
	// RawPrompt false: the conductor wraps the prompt in a preamble (sheet N of
	// M, workspace, earlier failures) and a checklist of the validations.
	RawPrompt      bool            `toml:"raw_prompt"`
	DefaultTimeout strict.Duration `toml:"default_timeout"` // a sheet's timeout when its score sets none
	// MaxConcurrent caps this instrument's running sheets across all jobs;
	// 0 means no cap of its own (the conductor's max_concurrent_sheets still applies).
	MaxConcurrent int               `toml:"max_concurrent"`
	Env           map[string]string `toml:"env"`           // added to the sheet's environment
	OutputFormat  string            `toml:"output_format"` // text (default) | claude-json | codex-jsonl | gemini-json
	// Liveness is how a running try shows it is alive, for stall detection:
	// "output" (default: new output or CPU use), "cpu" (CPU use only: its
	// output is a heartbeat that goes on while it hangs) or "none" (an agent
	// that prints nothing until it ends and waits on the network: it is never
	// judged stalled; its timeout still applies).
	Liveness string `toml:"liveness"`
	// ResumeSession: a retry continues the agent session of the try before
	// it (the session id its structured output reported), with ResumeArgs
	// ({session} is the id) added before a positional prompt.
	ResumeSession bool     `toml:"resume_session"`
	ResumeArgs    []string `toml:"resume_args"`
	Errors        Errors   `toml:"errors"`
	// Account names the rate limit a fleet shares: a limit one member sees
	// holds the sheets of every instrument of that account on every member.
	// Empty: the instrument's name.
	Account string `toml:"account"`
	Source  string `toml:"-"` // "built-in" or the file the profile came from
}

// Errors says how to classify a failed attempt.
type Errors struct {
	SuccessExitCodes []int `toml:"success_exit_codes"`
	// RateLimitPatterns and AuthPatterns are Go regular expressions matched,
	// case-insensitively, against the stdout and stderr of a failed attempt.
	// A rate limit makes the sheet wait without using an attempt; an auth
	// error fails it at once, since retrying cannot help.
	RateLimitPatterns []string        `toml:"rate_limit_patterns"`
	AuthPatterns      []string        `toml:"auth_patterns"`
	RateLimitWait     strict.Duration `toml:"rate_limit_wait"` // when the output names no reset time
	// MaxRateLimitRetries bounds rate-limit waits in a row that name no reset
	// time: past it a wait counts as a try, so a pattern that matches by
	// mistake can never retry for free without end.
	MaxRateLimitRetries int `toml:"max_rate_limit_retries"`
}

// Liveness values.
const (
	LivenessOutput = "output"
	LivenessCPU    = "cpu"
	LivenessNone   = "none"
)

// BuiltinSource is Profile.Source for the built-in profiles.
const BuiltinSource = "built-in"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Validate reports every problem of the profile as strict.Problems whose Key
// is the TOML key at fault (Load turns keys into lines).
func (p *Profile) Validate() error {
	var ps strict.Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, strict.Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(p.Name) {
		add("name", "name %q must start with a letter or digit and contain only letters, digits, '.', '_' and '-'", p.Name)
	}
	if p.Account != "" && !nameRE.MatchString(p.Account) {
		add("account", "account %q must start with a letter or digit and contain only letters, digits, '.', '_' and '-'", p.Account)
	}
	switch {
	case strings.TrimSpace(p.Executable) == "":
		add("executable", "executable is required")
	case strings.ContainsRune(p.Executable, '/') && !filepath.IsAbs(p.Executable):
		// A relative path would depend on the conductor's working directory.
		add("executable", "executable %q must be a name looked up on PATH or an absolute path", p.Executable)
	}

	// Only args count: model_args are left out when no model is set, and
	// the prompt must never go missing with them.
	uses := func(ph string) bool {
		return slices.ContainsFunc(p.Args, func(a string) bool { return strings.Contains(a, ph) })
	}
	// A missing placeholder is blamed on args when there are some, else on prompt_via.
	argsKey := "args"
	if len(p.Args) == 0 {
		argsKey = "prompt_via"
	}
	switch p.PromptVia {
	case PromptViaStdin:
	case PromptViaArg:
		if !uses(PlaceholderPrompt) {
			add(argsKey, "prompt_via = \"arg\" needs %s in args", PlaceholderPrompt)
		}
	case PromptViaFile:
		if !uses(PlaceholderPromptFile) {
			add(argsKey, "prompt_via = \"file\" needs %s in args", PlaceholderPromptFile)
		}
	default:
		add("prompt_via", "prompt_via must be stdin, arg or file, not %q", p.PromptVia)
	}
	if p.PromptVia != PromptViaArg && uses(PlaceholderPrompt) {
		add("args", "%s in args needs prompt_via = \"arg\"", PlaceholderPrompt)
	}
	if p.PromptVia != PromptViaFile && uses(PlaceholderPromptFile) {
		add("args", "%s in args needs prompt_via = \"file\"", PlaceholderPromptFile)
	}
	if slices.ContainsFunc(p.Args, func(a string) bool { return strings.Contains(a, PlaceholderModel) }) {
		// Without a model it would become an empty argument.
		add("args", "%s may only appear in model_args, which are left out when no model is set", PlaceholderModel)
	}

	if p.DefaultTimeout <= 0 {
		add("default_timeout", "default_timeout must be more than 0")
	}
	if p.MaxConcurrent < 0 {
		add("max_concurrent", "max_concurrent must be 0 (no cap) or more, not %d", p.MaxConcurrent)
	}
	for k := range p.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("env", "env name %q must be non-empty and contain no '='", k)
		}
	}
	switch p.OutputFormat {
	case "", OutputText, OutputClaudeJSON, OutputCodexJSONL, OutputGeminiJSON:
	default:
		add("output_format", "output_format must be %s, %s, %s or %s, not %q", OutputText, OutputClaudeJSON, OutputCodexJSONL,
			OutputGeminiJSON, p.OutputFormat)
	}
	if p.ResumeSession && !slices.ContainsFunc(p.ResumeArgs, func(a string) bool { return strings.Contains(a, PlaceholderSession) }) {
		add("resume_args", "resume_session = true needs %s in resume_args", PlaceholderSession)
	}
	switch p.Liveness {
	case "", LivenessOutput, LivenessCPU, LivenessNone:
	default:
		add("liveness", "liveness must be %s, %s or %s, not %q", LivenessOutput, LivenessCPU, LivenessNone, p.Liveness)
	}

	e := p.Errors
	if len(e.SuccessExitCodes) == 0 {
		add("errors.success_exit_codes", "errors.success_exit_codes must list at least one exit code")
	}
	for i, c := range e.SuccessExitCodes {
		if c < 0 || c > 255 {
			add(fmt.Sprintf("errors.success_exit_codes[%d]", i), "exit code %d is not between 0 and 255", c)
		}
	}
	for _, list := range []struct {
		key      string
		patterns []string
	}{{"rate_limit_patterns", e.RateLimitPatterns}, {"auth_patterns", e.AuthPatterns}} {
		for i, pat := range list.patterns {
			if _, err := compile(pat); err != nil {
				add(fmt.Sprintf("errors.%s[%d]", list.key, i), "errors.%s: %v", list.key, err)
			}
		}
	}
	if e.RateLimitWait <= 0 {
		add("errors.rate_limit_wait", "errors.rate_limit_wait must be more than 0")
	}
	if e.MaxRateLimitRetries < 1 {
		add("errors.max_rate_limit_retries", "errors.max_rate_limit_retries must be 1 or more, not %d", e.MaxRateLimitRetries)
	}
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// compile makes a pattern case-insensitive: agents word the same error in
// varying case ("Rate limit", "rate limit").
func compile(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		// An empty pattern would match every failure.
		return nil, errors.New("empty pattern")
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, err // reported without the (?i) the user did not write
	}
	return regexp.Compile("(?i)" + pattern)
}

func matchAny(patterns []string, output string) bool {
	for _, p := range patterns {
		// Compiled per call: failures are rare, and no cache means a Profile
		// stays a plain value that is safe to copy and share.
		if re, err := compile(p); err == nil && re.MatchString(output) {
			return true
		}
	}
	return false
}

// IsRateLimited reports whether the output (stdout and stderr) of a failed
// attempt matches one of the rate-limit patterns.
// AccountKey is the account whose rate limit this instrument shares.
func (p *Profile) AccountKey() string {
	if p.Account != "" {
		return p.Account
	}
	return p.Name
}

func (p *Profile) IsRateLimited(output string) bool {
	return matchAny(p.Errors.RateLimitPatterns, output)
}

// IsAuthError reports whether the output of a failed attempt matches one of
// the auth patterns.
func (p *Profile) IsAuthError(output string) bool {
	return matchAny(p.Errors.AuthPatterns, output)
}

// IsSuccess reports whether exit code means success for this instrument.
func (p *Profile) IsSuccess(exitCode int) bool {
	return slices.Contains(p.Errors.SuccessExitCodes, exitCode)
}

// Command builds the argv and stdin for one attempt. model "" omits model_args. promptFile is the path
// where the caller wrote the prompt when PromptVia=="file". Placeholders {prompt}, {prompt_file}, {model}.
//
// Substitution is a single pass, so a prompt that contains "{model}" is passed on untouched.
func (p *Profile) Command(prompt, model, promptFile string) (argv []string, stdin string) {
	r := strings.NewReplacer(PlaceholderPrompt, prompt, PlaceholderPromptFile, promptFile, PlaceholderModel, model)
	args := p.Args
	var tail []string
	if n := len(args); model != "" && n > 0 && isPositionalPrompt(args[n-1]) {
		args, tail = args[:n-1], args[n-1:]
	}
	argv = make([]string, 0, 1+len(p.Args)+len(p.ModelArgs))
	argv = append(argv, p.Executable)
	for _, a := range args {
		argv = append(argv, r.Replace(a))
	}
	if model != "" {
		for _, a := range p.ModelArgs {
			argv = append(argv, r.Replace(a))
		}
	}
	for _, a := range tail {
		argv = append(argv, r.Replace(a))
	}
	if p.PromptVia == PromptViaStdin {
		stdin = prompt
	}
	return argv, stdin
}

// WithSession adds the resume args for session to an argv Command built,
// when the profile resumes sessions and one is known.
func (p *Profile) WithSession(argv []string, session string) []string {
	if !p.ResumeSession || session == "" || len(p.ResumeArgs) == 0 {
		return argv
	}
	extra := make([]string, len(p.ResumeArgs))
	for i, a := range p.ResumeArgs {
		extra[i] = strings.ReplaceAll(a, PlaceholderSession, session)
	}
	at := len(argv)
	if n := len(p.Args); n > 0 && isPositionalPrompt(p.Args[n-1]) && at > 1 {
		at-- // options go before the positional prompt
	}
	out := make([]string, 0, len(argv)+len(extra))
	out = append(out, argv[:at]...)
	out = append(out, extra...)
	return append(out, argv[at:]...)
}

func isPositionalPrompt(arg string) bool {
	return arg == "-" || arg == PlaceholderPrompt || arg == PlaceholderPromptFile
}

// LookPath finds the executable: on PATH for a bare name, as is for an absolute path.
func (p *Profile) LookPath() (string, error) {
	path, err := exec.LookPath(p.Executable)
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("instrument %s: executable %q not found on PATH: %w", p.Name, p.Executable, err)
		}
		return "", fmt.Errorf("instrument %s: %w", p.Name, err)
	}
	return path, nil
}
