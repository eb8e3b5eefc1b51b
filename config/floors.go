package config

import (
	"fmt"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// Floors: the smallest value each setting may take. Below them a conductor
// does not work, or works against itself: monitor_interval = "1ms" keeps a
// core busy sampling an idle machine, max_memory_mb = 1 refuses all work for
// ever. Refused at start, by config dump and on reload (which then keeps the
// running settings).
const (
	MinPeriod       = 100 * time.Millisecond // every interval and timeout
	MinMemoryMB     = 64                     // the conductor alone uses tens of MB
	MinProcesses    = 4                      // a sheet is a wrapper, a shell and what it runs
	MinStallAfter   = time.Second            // a sheet needs at least one sample to look stalled
	MinRetention    = time.Minute            // profiler samples are summarised per minute
	MinLogSizeMB    = 1
	MinCountSetting = 1 // jobs, sheets, files, runs kept: zero of them is no conductor
)

type intFloor struct {
	key   string
	value int
	floor int
}

type durationFloor struct {
	key   string
	value strict.Duration
	floor time.Duration
}

func (c *Config) intFloors() []intFloor {
	return []intFloor{
		{"max_concurrent_jobs", c.MaxConcurrentJobs, MinCountSetting},
		{"max_concurrent_sheets", c.MaxConcurrentSheets, MinCountSetting},
		{"max_history", c.MaxHistory, MinCountSetting},
		{"max_sheets_per_job", c.MaxSheetsPerJob, MinCountSetting},
		{"resource_limits.max_memory_mb", c.ResourceLimits.MaxMemoryMB, MinMemoryMB},
		{"resource_limits.max_processes", c.ResourceLimits.MaxProcesses, MinProcesses},
		{"log.max_size_mb", c.Log.MaxSizeMB, MinLogSizeMB},
		{"log.max_files", c.Log.MaxFiles, MinCountSetting},
		// 0 means no limit for these three.
		{"max_log_mb", c.MaxLogMB, 0},
		{"resource_limits.max_sheet_memory_mb", c.ResourceLimits.MaxSheetMemoryMB, 0},
		{"resource_limits.max_sheet_processes", c.ResourceLimits.MaxSheetProcesses, 0},
	}
}

func (c *Config) durationFloors() []durationFloor {
	return []durationFloor{
		{"monitor_interval", c.MonitorInterval, MinPeriod},
		{"shutdown_timeout", c.ShutdownTimeout, MinPeriod},
		{"kill_grace", c.KillGrace, MinPeriod},
		{"request_timeout", c.RequestTimeout, MinPeriod},
		{"profiler.interval", c.Profiler.Interval, MinPeriod},
		{"profiler.retention", c.Profiler.Retention, MinRetention},
		{"profiler.stall_after", c.Profiler.StallAfter, MinStallAfter},
		{"fleet.timeout", c.Fleet.Timeout, MinPeriod},
		{"fleet.lease_ttl", c.Fleet.LeaseTTL, MinLeaseTTL},
		{"fleet.claim_interval", c.Fleet.ClaimInterval, MinPeriod},
		{"fleet.publish_interval", c.Fleet.PublishInterval, MinPeriod},
	}
}

// floorProblems names each setting below its floor, with its value and the floor.
func (c *Config) floorProblems() []string {
	var out []string
	for _, f := range c.intFloors() {
		if f.value < f.floor {
			out = append(out, fmt.Sprintf("%s = %d is below its floor of %d", f.key, f.value, f.floor))
		}
	}
	for _, f := range c.durationFloors() {
		if f.value.D() < f.floor {
			out = append(out, fmt.Sprintf("%s = %q is below its floor of %s", f.key, f.value, strict.Duration(f.floor)))
		}
	}
	// etcd grants leases in whole seconds: a fraction would be cut, and the
	// lease end sooner than the member reckons.
	if ttl := c.Fleet.LeaseTTL.D(); ttl%time.Second != 0 {
		out = append(out, fmt.Sprintf("fleet.lease_ttl = %q is not a whole number of seconds (etcd grants leases in seconds)", c.Fleet.LeaseTTL))
	}
	return out
}
