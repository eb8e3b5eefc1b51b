package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// Each setting refuses a value below its floor, naming the key, the value
// and the floor, and takes the floor itself.
func TestFloors(t *testing.T) {
	ms := func(n int) strict.Duration { return strict.Duration(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		key     string
		below   func(*Config)
		at      func(*Config)
		message string
	}{
		{"monitor_interval", func(c *Config) { c.MonitorInterval = ms(1) }, func(c *Config) { c.MonitorInterval = ms(100) },
			`monitor_interval = "1ms" is below its floor of 100ms`},
		{"profiler.interval", func(c *Config) { c.Profiler.Interval = ms(99) }, func(c *Config) { c.Profiler.Interval = ms(100) },
			`profiler.interval = "99ms" is below its floor of 100ms`},
		{"shutdown_timeout", func(c *Config) { c.ShutdownTimeout = ms(10) }, func(c *Config) { c.ShutdownTimeout = ms(100) },
			`shutdown_timeout = "10ms" is below its floor of 100ms`},
		{"kill_grace", func(c *Config) { c.KillGrace = 0 }, func(c *Config) { c.KillGrace = ms(100) },
			`kill_grace = "0s" is below its floor of 100ms`},
		{"request_timeout", func(c *Config) { c.RequestTimeout = ms(1) }, func(c *Config) { c.RequestTimeout = ms(100) },
			`request_timeout = "1ms" is below its floor of 100ms`},
		{"fleet.timeout", func(c *Config) { c.Fleet.Timeout = ms(50) }, func(c *Config) { c.Fleet.Timeout = ms(100) },
			`fleet.timeout = "50ms" is below its floor of 100ms`},
		{"profiler.stall_after", func(c *Config) { c.Profiler.StallAfter = ms(500) }, func(c *Config) { c.Profiler.StallAfter = ms(1000) },
			`profiler.stall_after = "500ms" is below its floor of 1s`},
		{"profiler.retention", func(c *Config) { c.Profiler.Retention = ms(59000) }, func(c *Config) { c.Profiler.Retention = ms(60000) },
			`profiler.retention = "59s" is below its floor of 1m`},
		{"max_memory_mb", func(c *Config) { c.ResourceLimits.MaxMemoryMB = 1 }, func(c *Config) { c.ResourceLimits.MaxMemoryMB = 64 },
			"resource_limits.max_memory_mb = 1 is below its floor of 64"},
		{"max_processes", func(c *Config) { c.ResourceLimits.MaxProcesses = 3 }, func(c *Config) { c.ResourceLimits.MaxProcesses = 4 },
			"resource_limits.max_processes = 3 is below its floor of 4"},
		{"max_concurrent_jobs", func(c *Config) { c.MaxConcurrentJobs = 0 }, func(c *Config) { c.MaxConcurrentJobs = 1 },
			"max_concurrent_jobs = 0 is below its floor of 1"},
		{"max_concurrent_sheets", func(c *Config) { c.MaxConcurrentSheets = -2 }, func(c *Config) { c.MaxConcurrentSheets = 1 },
			"max_concurrent_sheets = -2 is below its floor of 1"},
		{"max_sheets_per_job", func(c *Config) { c.MaxSheetsPerJob = 0 }, func(c *Config) { c.MaxSheetsPerJob = 1 },
			"max_sheets_per_job = 0 is below its floor of 1"},
		{"max_history", func(c *Config) { c.MaxHistory = 0 }, func(c *Config) { c.MaxHistory = 1 },
			"max_history = 0 is below its floor of 1"},
		{"log.max_size_mb", func(c *Config) { c.Log.MaxSizeMB = 0 }, func(c *Config) { c.Log.MaxSizeMB = 1 },
			"log.max_size_mb = 0 is below its floor of 1"},
		{"log.max_files", func(c *Config) { c.Log.MaxFiles = 0 }, func(c *Config) { c.Log.MaxFiles = 1 },
			"log.max_files = 0 is below its floor of 1"},
		{"backpressure out of range", func(c *Config) { c.Backpressure.Critical = 101 }, func(c *Config) { c.Backpressure.Critical = 100 },
			"backpressure thresholds must rise strictly within 1-100"},
		{"backpressure order", func(c *Config) { c.Backpressure.Medium = 40 }, func(c *Config) { c.Backpressure.Medium = 51 },
			"backpressure thresholds must rise strictly within 1-100"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			cfg := Defaults()
			tt.below(cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Validate() = %v, want %q", err, tt.message)
			}
			cfg = Defaults()
			tt.at(cfg)
			if err := cfg.Validate(); err != nil {
				t.Errorf("at the floor: %v", err)
			}
		})
	}
	// Every built-in profile keeps to the floors.
	for _, name := range ProfileNames() {
		if _, err := Load(LoadOptions{Profile: name}); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}
}

// A file below a floor is an invalid configuration, and the default
// max_sheets_per_job is the score parser's.
func TestFloorsThroughAFile(t *testing.T) {
	path := writeConfig(t, "monitor_interval = \"1ms\"\n[resource_limits]\nmax_memory_mb = 1\n")
	_, err := Load(LoadOptions{File: path, Explicit: true})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `monitor_interval = "1ms" is below its floor of 100ms`) ||
		!strings.Contains(err.Error(), "resource_limits.max_memory_mb = 1 is below its floor of 64") {
		t.Errorf("Load = %v", err)
	}
}
