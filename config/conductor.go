package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
	"github.com/pelletier/go-toml/v2"
)

// Config is conductor.toml. Every key is enforced somewhere; the README lists
// them all with their defaults (mzt config default prints them).
type Config struct {
	LogLevel            string          `toml:"log_level" comment:"debug | info | warn | error"`
	MaxConcurrentJobs   int             `toml:"max_concurrent_jobs" comment:"running jobs; more wait in the queue"`
	MaxConcurrentSheets int             `toml:"max_concurrent_sheets" comment:"sheets at once, all jobs together"`
	MonitorInterval     strict.Duration `toml:"monitor_interval"`
	ShutdownTimeout     strict.Duration `toml:"shutdown_timeout" comment:"how long SIGTERM waits for sheets before interrupting them"`
	KillGrace           strict.Duration `toml:"kill_grace" comment:"SIGTERM to SIGKILL grace for a sheet's process group"`
	RequestTimeout      strict.Duration `toml:"request_timeout" comment:"the longest the gateway waits for an answer to one request"`
	MaxHistory          int             `toml:"max_history" comment:"finished job runs kept in state.db"`
	MaxSheetsPerJob     int             `toml:"max_sheets_per_job" comment:"a score with more sheets (voices of every stage together) is refused"`
	Cgroups             bool            `toml:"cgroups" comment:"one cgroup v2 per sheet where the machine allows it (else process groups, subreaper and tokens)"`
	MaxLogMB            int             `toml:"max_log_mb" comment:"per sheet try and stream (stdout, stderr): beyond it the middle of the log is dropped, its head and tail kept; 0 = no cap"`
	ResourceLimits      ResourceLimits  `toml:"resource_limits"`
	Backpressure        Backpressure    `toml:"backpressure"`
	Profiler            Profiler        `toml:"profiler"`
	Log                 LogSettings     `toml:"log"`
	Metrics             Metrics         `toml:"metrics"`
	Budget              Budget          `toml:"budget"`
	Remote              Remote          `toml:"remote"`
	API                 API             `toml:"api"`
	Fleet               Fleet           `toml:"fleet"`
	Hooks               []Hook          `toml:"hooks,omitempty"`
}

// Budget bounds what the agents of every job together may spend.
type Budget struct {
	DailyUSD float64 `toml:"daily_usd" comment:"US dollars all tries may report spending per local calendar day; at it no new try starts and jobs pause (reason budget); 0 = no limit"`
}

// Metrics is the optional Prometheus endpoint.
type Metrics struct {
	Listen string `toml:"listen" comment:"HOST:PORT for a Prometheus /metrics endpoint; empty = off"`
}

// Remote is the optional protoactor remote endpoint other hosts reach the
// gateway through. Beyond loopback it requires mutual TLS (ca, cert, key).
type Remote struct {
	Listen    string `toml:"listen" comment:"HOST:PORT; empty = no remote endpoint"`
	Advertise string `toml:"advertise" comment:"HOST:PORT peers dial back to; default: listen"`
	CA        string `toml:"ca" comment:"CA certificate (PEM) that signs every trusted peer"`
	Cert      string `toml:"cert" comment:"this conductor's certificate (PEM)"`
	Key       string `toml:"key" comment:"its private key (PEM)"`
}

// Fleet lists the conductors `mzt fleet status` asks, and with etcd makes
// this conductor a member of a fleet that shares one job queue (fleet.go).
type Fleet struct {
	Timeout strict.Duration `toml:"timeout" comment:"how long fleet status waits for each peer"`
	Peer    []FleetPeer     `toml:"peer,omitempty"`
	// Membership (fleet.go): without etcd nothing below is used.
	Name            string          `toml:"name" comment:"this member's name in the fleet; empty = the host name"`
	Etcd            []string        `toml:"etcd" comment:"etcd endpoints (https://HOST:PORT); empty = not a fleet member"`
	CA              string          `toml:"ca" comment:"CA certificate (PEM) of the etcd servers; empty with https = the system's"`
	Cert            string          `toml:"cert" comment:"client certificate (PEM) this member shows etcd"`
	Key             string          `toml:"key" comment:"its private key (PEM)"`
	Advertise       string          `toml:"advertise" comment:"HOST:PORT other members reach this one's Conductor service at; default [api] listen"`
	LeaseTTL        strict.Duration `toml:"lease_ttl" comment:"a member silent this long is gone: its jobs are placed again"`
	ClaimInterval   strict.Duration `toml:"claim_interval" comment:"how often a member looks for queued fleet jobs (it also watches for new ones)"`
	PublishInterval strict.Duration `toml:"publish_interval" comment:"the least time between two writes of this member's capacity"`
}

// FleetPeer is one other conductor's remote endpoint.
type FleetPeer struct {
	Name    string `toml:"name"`
	Address string `toml:"address" comment:"HOST:PORT of its [remote] listen"`
}

// ResourceLimits are what pressure is measured against.
type ResourceLimits struct {
	MaxMemoryMB  int `toml:"max_memory_mb" comment:"conductor + every sheet's process tree"`
	MaxProcesses int `toml:"max_processes" comment:"descendants of the conductor"`
	// Per try, enforced by its cgroup (memory.max, pids.max); without cgroups
	// they are not enforced.
	MaxSheetMemoryMB  int `toml:"max_sheet_memory_mb" comment:"per sheet try; 0 = unlimited. Enforced only with cgroups (cgroup v2 with the memory controller): a try past it is killed and fails"`
	MaxSheetProcesses int `toml:"max_sheet_processes" comment:"processes and threads per sheet try; 0 = unlimited. Enforced only with cgroups (cgroup v2 with the pids controller): forks beyond it fail"`
}

// Backpressure thresholds are percentages of the nearer limit.
type Backpressure struct {
	Low      int `toml:"low"`
	Medium   int `toml:"medium"`
	High     int `toml:"high" comment:"at or above: no new sheets start, new jobs are refused"`
	Critical int `toml:"critical" comment:"at or above: the running sheet with the largest share of the critical limit is stopped and requeued (the youngest on a tie), again after each monitor_interval while critical"`
}

// Profiler settings.
type Profiler struct {
	Enabled   bool            `toml:"enabled"`
	Interval  strict.Duration `toml:"interval"`
	Retention strict.Duration `toml:"retention"`
	// StallAfter and OnStall apply to stages that set neither.
	StallAfter strict.Duration `toml:"stall_after" comment:"no CPU progress and no new output for this long = stalled"`
	OnStall    string          `toml:"on_stall" comment:"flag | retry (kill the try; it uses an attempt)"`
}

// LogSettings control conductor.log rotation.
type LogSettings struct {
	MaxSizeMB int `toml:"max_size_mb" comment:"rotate conductor.log past this size"`
	MaxFiles  int `toml:"max_files" comment:"rotated files kept (conductor.log.1 ...)"`
}

// Defaults are the settings of a conductor with no config file.
func Defaults() *Config {
	return &Config{
		LogLevel:            "info",
		MaxConcurrentJobs:   5,
		MaxConcurrentSheets: 25,
		MonitorInterval:     strict.Duration(5 * time.Second),
		ShutdownTimeout:     strict.Duration(30 * time.Second),
		KillGrace:           strict.Duration(5 * time.Second),
		RequestTimeout:      strict.Duration(30 * time.Second),
		MaxHistory:          10000,
		MaxLogMB:            100,
		MaxSheetsPerJob:     10000, // score.DefaultMaxSheets
		Cgroups:             true,
		ResourceLimits:      ResourceLimits{MaxMemoryMB: 8192, MaxProcesses: 512},
		Backpressure:        Backpressure{Low: 50, Medium: 70, High: 85, Critical: 95},
		Profiler: Profiler{
			Enabled:    true,
			Interval:   strict.Duration(5 * time.Second),
			Retention:  strict.Duration(24 * time.Hour),
			StallAfter: strict.Duration(15 * time.Minute),
			OnStall:    "flag",
		},
		Fleet: Fleet{Timeout: strict.Duration(3 * time.Second), Etcd: []string{}, LeaseTTL: strict.Duration(10 * time.Second),
			ClaimInterval: strict.Duration(time.Second), PublishInterval: strict.Duration(500 * time.Millisecond)},
		Log: LogSettings{MaxSizeMB: 50, MaxFiles: 5},
	}
}

// Profiles are named sets of overrides, applied over the config file. They are
// TOML so that they read like the file they override.
var profiles = map[string]string{
	"dev": `
log_level = "debug"
max_concurrent_jobs = 2
max_concurrent_sheets = 4
monitor_interval = "2s"
shutdown_timeout = "10s"
[profiler]
interval = "2s"
`,
	"intensive": `
max_concurrent_jobs = 20
max_concurrent_sheets = 100
shutdown_timeout = "5m"
[resource_limits]
max_memory_mb = 32768
max_processes = 2048
`,
	"minimal": `
max_concurrent_jobs = 1
max_concurrent_sheets = 2
monitor_interval = "10s"
[resource_limits]
max_memory_mb = 2048
max_processes = 128
[profiler]
enabled = false
`,
}

// ProfileNames lists the built-in profiles.
func ProfileNames() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ProfileTOML returns the overrides of a profile, for documentation.
func ProfileTOML(name string) (string, bool) {
	s, ok := profiles[name]
	return strings.TrimSpace(s), ok
}

// LoadOptions say where a conductor's settings come from; the daemon keeps
// them so that SIGHUP reloads with the same precedence as at start.
type LoadOptions struct {
	File     string // --config; "" = the home's conductor.toml when it exists
	Explicit bool   // File came from --config, so it must exist
	Profile  string // --profile
	LogLevel string // --log-level
}

// ErrInvalidConfig wraps every problem with the settings themselves.
var ErrInvalidConfig = errors.New("invalid configuration")

// Load merges defaults < file < profile < flags and validates the result.
func Load(opts LoadOptions) (*Config, error) {
	cfg := Defaults()
	if opts.File != "" {
		data, err := os.ReadFile(opts.File)
		switch {
		case errors.Is(err, os.ErrNotExist) && !opts.Explicit:
		case err != nil:
			return nil, fmt.Errorf("%w: read config: %w", ErrInvalidConfig, err)
		default:
			if err := strict.Decode(opts.File, data, cfg); err != nil {
				return nil, fmt.Errorf("%w:\n%w", ErrInvalidConfig, err)
			}
		}
	}
	if opts.Profile != "" {
		src, ok := profiles[opts.Profile]
		if !ok {
			return nil, fmt.Errorf("%w: unknown profile %q (available: %s)", ErrInvalidConfig,
				opts.Profile, strings.Join(ProfileNames(), ", "))
		}
		if err := strict.Decode("profile "+opts.Profile, []byte(src), cfg); err != nil {
			return nil, fmt.Errorf("%w: profile %s: %w", ErrInvalidConfig, opts.Profile, err)
		}
	}
	if opts.LogLevel != "" {
		cfg.LogLevel = opts.LogLevel
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return cfg, nil
}

// Validate checks ranges and the ordering of the pressure thresholds.
func (c *Config) Validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level %q: use debug, info, warn or error", c.LogLevel)
	}
	problems = append(problems, c.floorProblems()...)
	if c.Profiler.OnStall != "flag" && c.Profiler.OnStall != "retry" {
		bad("profiler.on_stall %q: use flag or retry", c.Profiler.OnStall)
	}
	if d := c.Budget.DailyUSD; d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
		bad("budget.daily_usd %v: use a positive number of US dollars, or 0 for no limit", d)
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen %q: want HOST:PORT", c.Metrics.Listen)
		}
	}
	problems = append(problems, c.Remote.problems()...)
	problems = append(problems, c.API.problems(c.Remote)...)
	problems = append(problems, hookProblems(c.Hooks)...)
	problems = append(problems, c.Fleet.membershipProblems()...)
	for i, p := range c.Fleet.Peer {
		if p.Name == "" {
			bad("fleet.peer[%d]: name is required", i)
		}
		if _, _, err := net.SplitHostPort(p.Address); err != nil {
			bad("fleet.peer[%d] (%s): address %q: want HOST:PORT", i, p.Name, p.Address)
		}
	}
	bp := c.Backpressure
	if !(0 < bp.Low && bp.Low < bp.Medium && bp.Medium < bp.High && bp.High < bp.Critical && bp.Critical <= 100) {
		bad("backpressure thresholds must rise strictly within 1-100: low %d, medium %d, high %d, critical %d",
			bp.Low, bp.Medium, bp.High, bp.Critical)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// TOML renders the config as a conductor.toml (for `mzt config default|dump`).
func (c *Config) TOML() (string, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(true)
	if err := enc.Encode(c); err != nil {
		return "", fmt.Errorf("encode config: %w", err)
	}
	return buf.String(), nil
}

// Change is one setting that differs between two configs.
type Change struct {
	Key          string
	Old, New     string
	NeedsRestart bool
}

// restartOnly names settings the running conductor cannot apply on reload.
var restartOnly = map[string]bool{
	"log.max_size_mb": true, "log.max_files": true, "profiler.enabled": true, "cgroups": true,
	"metrics.listen": true, "remote.listen": true, "remote.advertise": true, "remote.ca": true,
	"remote.cert": true, "remote.key": true,
	"api.listen": true, "api.ca": true, "api.cert": true, "api.key": true,
	"fleet.name": true, "fleet.etcd": true, "fleet.ca": true, "fleet.cert": true, "fleet.key": true,
	"fleet.lease_ttl": true, "fleet.advertise": true, "fleet.claim_interval": true, "fleet.publish_interval": true,
}

// Diff lists the settings that differ, flagging those a reload cannot apply.
func Diff(old, new *Config) []Change {
	var out []Change
	diffValue("", reflect.ValueOf(*old), reflect.ValueOf(*new), &out)
	return out
}

func diffValue(prefix string, a, b reflect.Value, out *[]Change) {
	t := a.Type()
	for i := range t.NumField() {
		key := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]
		if prefix != "" {
			key = prefix + "." + key
		}
		fa, fb := a.Field(i), b.Field(i)
		if fa.Kind() == reflect.Struct {
			diffValue(key, fa, fb, out)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			*out = append(*out, Change{Key: key, Old: fmt.Sprint(fa.Interface()), New: fmt.Sprint(fb.Interface()),
				NeedsRestart: restartOnly[key]})
		}
	}
}

// problems checks the remote endpoint: mutual TLS is mandatory beyond loopback.
func (r Remote) problems() []string {
	if r.Listen == "" {
		return nil
	}
	var out []string
	host, _, err := net.SplitHostPort(r.Listen)
	if err != nil {
		return []string{fmt.Sprintf("remote.listen %q: want HOST:PORT", r.Listen)}
	}
	tls := r.CA != "" || r.Cert != "" || r.Key != ""
	if tls && (r.CA == "" || r.Cert == "" || r.Key == "") {
		out = append(out, "remote: ca, cert and key go together (mutual TLS needs all three)")
	}
	if !tls && !IsLoopback(host) {
		out = append(out, fmt.Sprintf("remote.listen %q is beyond loopback: set remote.ca, remote.cert and remote.key (mutual TLS is mandatory there; `mzt certs init` creates them)", r.Listen))
	}
	if r.Advertise != "" {
		if _, _, err := net.SplitHostPort(r.Advertise); err != nil {
			out = append(out, fmt.Sprintf("remote.advertise %q: want HOST:PORT", r.Advertise))
		}
	}
	return out
}

// IsLoopback reports whether host names only this machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
