package config

import (
	"fmt"
	"net/url"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// Hook is one [[hooks]] of conductor.toml: on the events named in On it
// runs a command (bash -c) or POSTs the event's JSON to a URL.
type Hook struct {
	On      []string        `toml:"on" comment:"job.completed, job.failed, sheet.failed, budget, stall, pressure"`
	Run     string          `toml:"run" comment:"a command (bash -c), with MZT_* variables in its environment"`
	URL     string          `toml:"url" comment:"an http(s) URL the event's JSON is POSTed to (3 retries with backoff)"`
	Timeout strict.Duration `toml:"timeout" comment:"per run or request; default 60s"`
}

// HookEvents are the events a conductor hook may name.
var HookEvents = []string{"job.completed", "job.failed", "sheet.failed", "budget", "stall", "pressure"}

// DefaultHookTimeout bounds a hook that sets no timeout.
const DefaultHookTimeout = 60 * time.Second

// TimeoutOrDefault is the hook's timeout.
func (h Hook) TimeoutOrDefault() time.Duration {
	if h.Timeout <= 0 {
		return DefaultHookTimeout
	}
	return time.Duration(h.Timeout)
}

// Wants says whether the hook runs on event.
func (h Hook) Wants(event string) bool {
	for _, e := range h.On {
		if e == event {
			return true
		}
	}
	return false
}

func hookProblems(hooks []Hook) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for i, h := range hooks {
		if len(h.On) == 0 {
			bad("hooks[%d].on: name at least one of %v", i, HookEvents)
		}
		for _, e := range h.On {
			if !contains(HookEvents, e) {
				bad("hooks[%d].on: unknown event %q: use one of %v", i, e, HookEvents)
			}
		}
		switch {
		case (h.Run == "") == (h.URL == ""):
			bad("hooks[%d]: set either run or url", i)
		case h.URL != "":
			if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("hooks[%d].url %q: want an http:// or https:// URL", i, h.URL)
			}
		}
		if h.Timeout < 0 || time.Duration(h.Timeout) > 24*time.Hour {
			bad("hooks[%d].timeout: between 0 (the default, 60s) and 24h", i)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
