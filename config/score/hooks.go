package score

import (
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// DefaultHookTimeout bounds a hook that sets no timeout.
const DefaultHookTimeout = 60 * time.Second

// maxHookTimeout keeps a hook from holding its slot for ever.
const maxHookTimeout = 24 * time.Hour

// Hooks are the score's [hooks]: shell commands (bash -c) run once the job
// ends, with its id, status, counts, cost and workspace in their
// environment. A hook never changes the job's outcome.
type Hooks struct {
	OnSuccess string          `toml:"on_success"` // the job completed
	OnFailure string          `toml:"on_failure"` // it failed or was cancelled
	OnFinish  string          `toml:"on_finish"`  // either way, after the other
	Timeout   strict.Duration `toml:"timeout"`    // per hook; default 60s
}

// TimeoutOrDefault is the hook's timeout.
func (h Hooks) TimeoutOrDefault() time.Duration {
	if h.Timeout <= 0 {
		return DefaultHookTimeout
	}
	return time.Duration(h.Timeout)
}

func (p *parser) checkHooks(h *Hooks) {
	if h.Timeout < 0 || time.Duration(h.Timeout) > maxHookTimeout {
		p.at("hooks.timeout", "hooks.timeout must be between 0 (the default, 60s) and 24h, not %s", time.Duration(h.Timeout))
	}
}
