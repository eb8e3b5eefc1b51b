package instrument

import (
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// Defaults for a key a user profile leaves out.
const (
	DefaultTimeout       = 30 * time.Minute
	DefaultMaxConcurrent = 4
	DefaultRateLimitWait = 60 * time.Second
	// DefaultMaxRateLimitRetries is how many rate-limit waits in a row with no
	// reset time are free before one counts as a try.
	DefaultMaxRateLimitRetries = 5
)

// newProfile is a profile with every default set, ready to decode a user file
// into: go-toml keeps whatever the file does not mention.
func newProfile() *Profile {
	return &Profile{
		PromptVia:      PromptViaStdin,
		DefaultTimeout: strict.Duration(DefaultTimeout),
		MaxConcurrent:  DefaultMaxConcurrent,
		OutputFormat:   OutputText,
		ResumeArgs:     []string{"--resume", PlaceholderSession},
		Errors: Errors{
			SuccessExitCodes:    []int{0},
			RateLimitWait:       strict.Duration(DefaultRateLimitWait),
			MaxRateLimitRetries: DefaultMaxRateLimitRetries,
		},
	}
}

// Builtins returns fresh copies of the built-in profiles, so callers may change them:
//
//   - shell: `bash -c PROMPT`. The prompt is the script, with no preamble; no
//     cap of its own on concurrency, no rate-limit or auth patterns.
//   - claude-code: `claude -p --output-format stream-json --verbose
//     --permission-mode acceptEdits`, the prompt on stdin; the result and usage
//     come from the final result event, and every event is liveness. acceptEdits lets the agent write files in its
//     workspace (its cwd) without the approval nobody is there to give.
//   - codex: `codex exec --json --skip-git-repo-check --sandbox workspace-write -`,
//     "-" reading the prompt from stdin. Workspaces are often not git
//     repositories, and the default read-only sandbox could not write the files
//     validations look for.
//   - gemini: `gemini --approval-mode auto_edit --output-format json`, the
//     prompt on stdin. Gemini runs headless whenever stdin is not a terminal,
//     and stdin, unlike `-p PROMPT`, has no ARG_MAX limit on prompt size. The
//     JSON object carries the answer and the token counts.
//
// A user who wants other flags (e.g. `--dangerously-skip-permissions`) writes
// <home>/instruments/<name>.toml, which replaces the built-in of that name.
func Builtins() map[string]*Profile {
	shell := newProfile()
	shell.Name = "shell"
	shell.Executable = "bash"
	shell.Args = []string{"-c", PlaceholderPrompt}
	shell.PromptVia = PromptViaArg
	shell.RawPrompt = true
	shell.MaxConcurrent = 0

	claude := newProfile()
	claude.Name = "claude-code"
	claude.Executable = "claude"
	// stream-json (which needs --verbose) prints an event per step: each is
	// activity for stall detection, where json prints nothing until the end.
	claude.Args = []string{"-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits"}
	claude.ModelArgs = []string{"--model", PlaceholderModel}
	claude.OutputFormat = OutputClaudeJSON
	claude.Errors.RateLimitPatterns = []string{
		`rate.?limit`, `\b429\b`, `\b529\b`, `usage limit`, `overloaded`, `hit your limit`,
	}
	claude.Errors.AuthPatterns = []string{
		`invalid api key`, `invalid x-api-key`, `authentication_error`, `please run /login`,
		`oauth token has expired`, `not logged in`, `authentication_failed`, `api_error_status 401`,
	}

	codex := newProfile()
	codex.Name = "codex"
	codex.Executable = "codex"
	codex.Args = []string{"exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write", "-"}
	codex.ModelArgs = []string{"--model", PlaceholderModel}
	codex.OutputFormat = OutputCodexJSONL
	codex.Errors.RateLimitPatterns = []string{
		`rate.?limit`, `\b429\b`, `usage limit`, `too many requests`, `quota exceeded`,
	}
	codex.Errors.AuthPatterns = []string{
		`invalid api key`, `incorrect api key`, `\b401 unauthorized`, `not logged in`, `codex login`,
	}

	gemini := newProfile()
	gemini.Name = "gemini"
	gemini.Executable = "gemini"
	gemini.Args = []string{"--approval-mode", "auto_edit", "--output-format", "json"}
	gemini.OutputFormat = OutputGeminiJSON
	gemini.ModelArgs = []string{"--model", PlaceholderModel}
	gemini.Errors.RateLimitPatterns = []string{
		`rate.?limit`, `\b429\b`, `resource.?exhausted`, `quota exceeded`, `too many requests`,
	}
	gemini.Errors.AuthPatterns = []string{
		`api key not valid`, `invalid api key`, `unauthenticated`, `please set an auth method`,
	}

	m := map[string]*Profile{}
	for _, p := range []*Profile{shell, claude, codex, gemini} {
		p.Source = BuiltinSource
		m[p.Name] = p
	}
	return m
}
