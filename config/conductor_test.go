package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
	"github.com/pelletier/go-toml/v2"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conductor.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadStrictUnknownKeys(t *testing.T) {
	path := writeConfig(t, "log_level = \"info\"\nmax_concurent_jobs = 3\n\n[backpressure]\nhihg = 80\n")
	_, err := Load(LoadOptions{File: path, Explicit: true})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Load = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{
		path + `:2:1: unknown key "max_concurent_jobs" (did you mean "max_concurrent_jobs"?)`,
		path + `:5:1: unknown key "hihg" (did you mean "high"?)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%s\nlacks\n%s", err, want)
		}
	}
	var ps strict.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Errorf("want the two problems reachable with errors.As, got %#v", ps)
	}
}

func TestLoadStrictTypes(t *testing.T) {
	for _, body := range []string{
		"max_concurrent_jobs = \"five\"\n",
		"monitor_interval = 5\n", // a bare number is not a duration
		"monitor_interval = \"soon\"\n",
		"[profiler]\nenabled = \"yes\"\n",
		"log_level = \n", // syntax
	} {
		_, err := Load(LoadOptions{File: writeConfig(t, body), Explicit: true})
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "conductor.toml:") {
			t.Errorf("%q: Load = %v, want an invalid configuration naming file:line", body, err)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "conductor.toml")
	cfg, err := Load(LoadOptions{File: missing})
	if err != nil {
		t.Fatalf("a missing home conductor.toml is not an error: %v", err)
	}
	if !reflect.DeepEqual(cfg, Defaults()) {
		t.Errorf("without a file: %+v, want the defaults", cfg)
	}
	if _, err := Load(LoadOptions{File: missing, Explicit: true}); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing --config file: %v, want an error naming it", err)
	}
}

func TestLoadPrecedence(t *testing.T) {
	path := writeConfig(t, `
log_level = "warn"
max_concurrent_jobs = 7
max_concurrent_sheets = 9
max_history = 50
shutdown_timeout = "1m"
[resource_limits]
max_memory_mb = 1000
`)
	// File over defaults.
	cfg, err := Load(LoadOptions{File: path})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "warn" || cfg.MaxConcurrentJobs != 7 || cfg.ResourceLimits.MaxMemoryMB != 1000 ||
		cfg.MaxConcurrentSheets != 9 || time.Duration(cfg.ShutdownTimeout) != time.Minute {
		t.Errorf("file not applied over defaults: %+v", cfg)
	}
	if cfg.ResourceLimits.MaxProcesses != 512 || time.Duration(cfg.KillGrace) != 5*time.Second {
		t.Errorf("defaults lost where the file is silent: %+v", cfg)
	}

	// Profile over file, flags over profile.
	cfg, err = Load(LoadOptions{File: path, Profile: "dev", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"log_level (flag over profile over file)", cfg.LogLevel, "error"},
		{"max_concurrent_jobs (profile over file)", cfg.MaxConcurrentJobs, 2},
		{"max_concurrent_sheets (profile over file)", cfg.MaxConcurrentSheets, 4},
		{"shutdown_timeout (profile over file)", time.Duration(cfg.ShutdownTimeout), 10 * time.Second},
		{"profiler.interval (profile over default)", time.Duration(cfg.Profiler.Interval), 2 * time.Second},
		{"max_memory_mb (file; the profile is silent)", cfg.ResourceLimits.MaxMemoryMB, 1000},
		{"max_history (file; the profile is silent)", cfg.MaxHistory, 50},
		{"kill_grace (default)", time.Duration(cfg.KillGrace), 5 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

// flatten turns a decoded TOML document into dotted keys.
func flatten(prefix string, m map[string]any, out map[string]bool) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		out[key] = true
	}
}

func TestProfilesChangeExactlyTheirKeys(t *testing.T) {
	if got := ProfileNames(); !slices.Equal(got, []string{"dev", "intensive", "minimal"}) {
		t.Errorf("ProfileNames() = %v", got)
	}
	// A file sets something no profile touches: it survives every profile.
	path := writeConfig(t, "max_history = 77\n")
	for _, name := range ProfileNames() {
		t.Run(name, func(t *testing.T) {
			src, ok := ProfileTOML(name)
			if !ok {
				t.Fatal("no TOML")
			}
			var doc map[string]any
			if err := toml.Unmarshal([]byte(src), &doc); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			flatten("", doc, want)

			cfg, err := Load(LoadOptions{Profile: name})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, c := range Diff(Defaults(), cfg) {
				got[c.Key] = true
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("profile %s changed %v, want exactly its keys %v", name, keys(got), keys(want))
			}

			cfg, err = Load(LoadOptions{File: path, Profile: name})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxHistory != 77 {
				t.Errorf("profile %s lost the file's max_history", name)
			}
		})
	}
	if _, err := Load(LoadOptions{Profile: "turbo"}); !errors.Is(err, ErrInvalidConfig) ||
		!strings.Contains(err.Error(), `"turbo"`) || !strings.Contains(err.Error(), "dev, intensive, minimal") {
		t.Errorf("unknown profile: %v, want an error listing the profiles", err)
	}
	if _, ok := ProfileTOML("turbo"); ok {
		t.Error("ProfileTOML found an unknown profile")
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"equal thresholds", func(c *Config) { c.Backpressure.Medium = c.Backpressure.Low }, "backpressure thresholds"},
		{"falling thresholds", func(c *Config) { c.Backpressure.High, c.Backpressure.Critical = 96, 95 }, "backpressure thresholds"},
		{"critical over 100", func(c *Config) { c.Backpressure.Critical = 101 }, "critical 101"},
		{"low zero", func(c *Config) { c.Backpressure.Low = 0 }, "low 0"},
		{"no jobs", func(c *Config) { c.MaxConcurrentJobs = 0 }, "max_concurrent_jobs = 0 is below its floor of 1"},
		{"no memory", func(c *Config) { c.ResourceLimits.MaxMemoryMB = -1 }, "resource_limits.max_memory_mb = -1 is below its floor of 64"},
		{"zero interval", func(c *Config) { c.MonitorInterval = 0 }, `monitor_interval = "0s" is below its floor of 100ms`},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, `log_level "loud"`},
		{"lease in fractions of a second", func(c *Config) { c.Fleet.LeaseTTL = strict.Duration(2900 * time.Millisecond) },
			`fleet.lease_ttl = "2.9s" is not a whole number of seconds`},
	}
	for _, tt := range tests {
		cfg := Defaults()
		tt.change(cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	// Through a file, an invalid value is an invalid configuration.
	path := writeConfig(t, "[backpressure]\nlow = 90\n")
	if _, err := Load(LoadOptions{File: path}); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "low 90") {
		t.Errorf("Load with low above medium: %v", err)
	}
	if cfg, err := Load(LoadOptions{LogLevel: "verbose"}); err == nil {
		t.Errorf("--log-level verbose accepted: %+v", cfg)
	}
}

func TestDiff(t *testing.T) {
	old := Defaults()
	if changes := Diff(old, Defaults()); len(changes) != 0 {
		t.Errorf("Diff of equal configs = %+v", changes)
	}
	updated := Defaults()
	updated.MaxConcurrentJobs = 9
	updated.Backpressure.High = 90
	updated.MonitorInterval = strict.Duration(time.Second)
	updated.Log.MaxFiles = 2
	updated.Log.MaxSizeMB = 10
	updated.Profiler.Enabled = false
	updated.API.Listen = "127.0.0.1:7400"
	got := map[string]Change{}
	for _, c := range Diff(old, updated) {
		got[c.Key] = c
	}
	want := map[string]bool{ // key -> needs restart
		"max_concurrent_jobs": false, "backpressure.high": false, "monitor_interval": false,
		"log.max_files": true, "log.max_size_mb": true, "profiler.enabled": true, "api.listen": true,
	}
	if len(got) != len(want) {
		t.Errorf("Diff found %v, want %v", got, want)
	}
	for key, restart := range want {
		c, ok := got[key]
		if !ok {
			t.Errorf("Diff missed %s", key)
			continue
		}
		if c.NeedsRestart != restart {
			t.Errorf("%s: NeedsRestart = %v, want %v", key, c.NeedsRestart, restart)
		}
	}
	if c := got["max_concurrent_jobs"]; c.Old != "5" || c.New != "9" {
		t.Errorf("max_concurrent_jobs change %q -> %q, want 5 -> 9", c.Old, c.New)
	}
}

func TestTOMLRoundTrips(t *testing.T) {
	for _, name := range append([]string{""}, ProfileNames()...) {
		t.Run(fmt.Sprintf("profile=%q", name), func(t *testing.T) {
			want, err := Load(LoadOptions{Profile: name})
			if err != nil {
				t.Fatal(err)
			}
			want.Backpressure = Backpressure{Low: 40, Medium: 60, High: 80, Critical: 99}
			want.KillGrace = strict.Duration(1500 * time.Millisecond)
			text, err := want.TOML()
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(LoadOptions{File: writeConfig(t, text), Explicit: true})
			if err != nil {
				t.Fatalf("the rendered config does not load: %v\n%s", err, text)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the config:\n got %+v\nwant %+v\n%s", got, want, text)
			}
		})
	}
	text, _ := Defaults().TOML()
	for _, key := range []string{"max_concurrent_jobs = 5", "[backpressure]", "critical = 95", "retention = '24h'"} {
		if !strings.Contains(text, key) {
			t.Errorf("default TOML lacks %q:\n%s", key, text)
		}
	}
}
