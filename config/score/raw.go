package score

import "github.com/mzt-dev/mzt/config/strict"

// The raw types mirror the TOML file. Pointers tell a key left out from one
// set to its zero value, so that timeout = "0s" is an error rather than "use
// the default". Their toml tags are the whole schema: strict decoding rejects
// anything else, and suggests the closest tag.

type rawScore struct {
	Name      string         `toml:"name"`
	ID        string         `toml:"id"`
	Workspace string         `toml:"workspace"`
	Defaults  rawSettings    `toml:"defaults"`
	Run       rawRun         `toml:"run"`
	Vars      map[string]any `toml:"vars"`
	VoiceVars map[string]any `toml:"voice_vars"`
	// KeepWorktrees leaves the voices' git worktrees in place at the end.
	KeepWorktrees *bool      `toml:"keep_worktrees"`
	Stage         []rawStage `toml:"stage"`
	Hooks         Hooks      `toml:"hooks"`
}

type rawRun struct {
	MaxParallel *int     `toml:"max_parallel"`
	FailFast    *bool    `toml:"fail_fast"`
	MaxCostUSD  *float64 `toml:"max_cost_usd"`
	// Placement "fleet" queues the job for the fleet ("local" is the default).
	Placement    *string `toml:"placement"`
	FleetReplace *bool   `toml:"fleet_replace"`
}

type rawSettings struct {
	Instrument       *string           `toml:"instrument"`
	Model            *string           `toml:"model"`
	Timeout          *strict.Duration  `toml:"timeout"`
	Attempts         *int              `toml:"attempts"`
	Backoff          *rawBackoff       `toml:"backoff"`
	MaxRateLimitWait *strict.Duration  `toml:"max_rate_limit_wait"`
	Env              map[string]string `toml:"env"`
	StallAfter       *strict.Duration  `toml:"stall_after"`
	OnStall          *string           `toml:"on_stall"`
}

type rawBackoff struct {
	Base   *strict.Duration `toml:"base"`
	Max    *strict.Duration `toml:"max"`
	Factor *float64         `toml:"factor"`
	Jitter *bool            `toml:"jitter"`
}

type rawStage struct {
	ID          string          `toml:"id"`
	DependsOn   []string        `toml:"depends_on"` // nil: left out
	Prompt      *string         `toml:"prompt"`
	PromptFile  *string         `toml:"prompt_file"`
	Voices      *int            `toml:"voices"`
	Instruments []string        `toml:"instruments"` // one per voice
	Workspace   *string         `toml:"workspace"`   // a template
	Worktree    *bool           `toml:"worktree"`    // each voice in a git worktree of its own
	rawSettings                 // a stage overrides any of [defaults]
	Validate    []rawValidation `toml:"validate"`
}

type rawValidation struct {
	Type     string           `toml:"type"`
	Path     *string          `toml:"path"`
	Pattern  *string          `toml:"pattern"`
	Contains *string          `toml:"contains"`
	Run      *string          `toml:"run"`
	Timeout  *strict.Duration `toml:"timeout"`
	Since    *string          `toml:"since"`
}
