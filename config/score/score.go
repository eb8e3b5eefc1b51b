// Package score owns the score file (TOML): it parses and validates a
// score, reporting every problem with its line, expands it into numbered
// sheets with their dependencies, and renders its templates.
//
// Everything a score can say is enforced here or by the engine; a key that
// nothing would act on is an unknown key. The package reads the score and its
// prompt files but never runs anything.
package score

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
	"github.com/pelletier/go-toml/v2"
)

// Defaults of a score that leaves a key out.
const (
	DefaultAttempts         = 3
	DefaultMaxParallel      = 4
	DefaultVoices           = 1
	DefaultBackoffBase      = 10 * time.Second
	DefaultBackoffMax       = 10 * time.Minute
	DefaultBackoffFactor    = 2.0
	DefaultMaxRateLimitWait = 6 * time.Hour
	// DefaultCommandTimeout bounds a command validation that sets no timeout.
	DefaultCommandTimeout = 5 * time.Minute
	// MaxVoices guards against a typo turning into a million sheets.
	MaxVoices = 1000
	// DefaultMaxSheets is how many sheets a job may have unless the
	// conductor's max_sheets_per_job says otherwise.
	DefaultMaxSheets = 10000
)

// Score is a parsed, valid score. It is not changed after Parse, except by SetID.
type Score struct {
	Path      string // absolute path of the score file
	Dir       string // its directory: relative paths in the score start here
	Name      string // display name; the job id when the score has none
	ID        string // the score's id key, else the file name without extension
	Workspace string // absolute; default <Dir>/workspaces/<ID>
	// MaxParallel caps the sheets of this job running at once.
	MaxParallel int
	// FailFast: once a sheet fails for good, start no new sheet of the job.
	FailFast bool
	// MaxCostUSD is the job's budget: at it, no new try starts and the job
	// pauses with the reason "budget". 0 = no budget.
	MaxCostUSD float64
	// Fleet: [run] placement = "fleet" puts the job in the fleet's queue.
	// FleetReplace (default true): a job whose member is gone is placed
	// again; false makes it wait for that member.
	Fleet        bool
	FleetReplace bool
	// Vars are strings, arrays or tables, the same for every sheet; never nil.
	Vars map[string]any
	// VoiceVars are arrays, one element per voice: voice v of a stage reads
	// element v-1 of each as {{.VoiceVars.key}}. All have the same length.
	VoiceVars map[string][]any // never nil
	// KeepWorktrees: the voices' git worktrees stay when the job ends.
	KeepWorktrees bool
	Stages        []Stage
	Source        []byte // the score file as read
	Hooks         Hooks  // [hooks]: commands run when the job ends

	workspaceSet bool // false when Workspace is the default, which follows the id
	// stageIndex maps stage ids to indexes, built once by Parse; nil in a
	// hand-built Score.
	stageIndex map[string]int
}

// Stage is one [[stage]] with its settings resolved.
type Stage struct {
	ID string
	// DependsOn is resolved: an omitted depends_on has become the previous
	// stage (none for the first), and depends_on = [] is empty.
	DependsOn  []string
	Prompt     string // as written; "" when PromptFile is used
	PromptFile string // as written, relative to the score's directory
	Voices     int    // sheets of this stage (fan-out); .Voice is 1..Voices
	// Instruments, when set, names one instrument per voice (an ensemble);
	// Settings.Instrument is then only the default's.
	Instruments []string
	// Workspace is the template of this stage's own workspace ("" = the
	// score's), rendered per sheet, relative to the score's directory.
	Workspace string
	// Worktree: each voice runs in a git worktree of the score's workspace
	// (a repository), on its own branch (WorktreeBranch).
	Worktree   bool
	Settings   // effective: the stage's own keys over [defaults] over the package defaults
	Validate   []Validation
	Line       int    // of the [[stage]] header
	PromptText string // the prompt template: Prompt, or the content of PromptFile
}

// Settings are the keys [defaults] gives every stage and a stage may override.
type Settings struct {
	Instrument string
	Model      string // "" leaves the choice to the instrument
	// Timeout of one attempt; 0 means the instrument's default_timeout.
	Timeout  strict.Duration
	Attempts int      // total tries per sheet
	Backoff  *Backoff // never nil once resolved
	// MaxRateLimitWait caps the total time a sheet waits on rate limits.
	MaxRateLimitWait strict.Duration
	Env              map[string]string // added to the sheet's environment; never nil
	// StallAfter: a running sheet with no CPU progress and no new output for
	// this long is stalled; 0 means the conductor's profiler.stall_after.
	StallAfter strict.Duration
	// OnStall is "flag" (mark it and say so) or "retry" (kill the try, which
	// uses an attempt); "" means the conductor's profiler.on_stall.
	OnStall string
}

// Stall actions.
const (
	OnStallFlag  = "flag"
	OnStallRetry = "retry"
)

// Backoff is the wait before retrying a failed attempt: Base, then multiplied
// by Factor after each failure, capped at Max; with Jitter, a random part of
// the wait is taken off so that retries spread out.
type Backoff struct {
	Base   strict.Duration `toml:"base"`
	Max    strict.Duration `toml:"max"`
	Factor float64         `toml:"factor"`
	Jitter *bool           `toml:"jitter"` // never nil once resolved
}

// Validation types and the keys each one uses (besides type):
//
//	file_exists       path
//	file_modified     path              (compared with the file before the attempt)
//	content_contains  path, contains
//	content_regex     path, pattern     (Go regexp syntax)
//	command           run, [timeout]    (bash -c in the workspace; exit 0 = pass)
//
// path, contains, pattern and run are templates. A relative path is relative
// to the workspace. A key a type does not use is an error.
const (
	FileExists      = "file_exists"
	FileModified    = "file_modified"
	ContentContains = "content_contains"
	ContentRegex    = "content_regex"
	Command         = "command"
)

// Validation is one [[stage.validate]] check. Its fields hold templates; the
// engine renders them per sheet.
type Validation struct {
	Type     string
	Path     string
	Pattern  string
	Contains string
	Run      string
	Timeout  strict.Duration // command only; DefaultCommandTimeout when not set
	// Since is how recent a checked file must be (file checks only):
	// SinceRun (the default), SinceTry or SinceAny; "" for command.
	Since string
	Line  int
}

// Freshness of the files a validation checks. The default is SinceRun: a
// file left in the workspace by an earlier run must never pass for the work
// of this one, which would hide an agent that wrote nothing.
const (
	SinceRun = "run" // created or modified since the run started
	SinceTry = "try" // ... since the try started
	SinceAny = "any" // any file, however old
)

func sinceValues() []string { return []string{SinceRun, SinceTry, SinceAny} }

var jobIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// ValidJobID reports whether id can name a job: 1-100 characters of
// [A-Za-z0-9._-], starting with a letter or digit.
func ValidJobID(id string) bool {
	return jobIDRE.MatchString(id)
}

// SetID changes the job id (mzt run --id). A workspace the score does not set
// follows the id, so that two runs under different ids do not share one.
func (s *Score) SetID(id string) error {
	if !ValidJobID(id) {
		return fmt.Errorf("invalid job id %q: use 1-100 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", id)
	}
	if s.Name == s.ID {
		s.Name = id
	}
	s.ID = id
	if !s.workspaceSet {
		s.Workspace = defaultWorkspace(s.Dir, id)
	}
	return nil
}

func defaultWorkspace(dir, id string) string {
	return filepath.Join(dir, "workspaces", id)
}

// Load reads and parses the score file at path. See Parse.
func Load(path string, instruments map[string]bool) (*Score, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, strict.Problems{{File: path, Msg: fmt.Sprintf("cannot read score: %v", errors.Unwrap(err))}}
	}
	return Parse(path, data, instruments)
}

// Parse parses score TOML from data (path is used for messages, for Dir, for the default ID = file name
// without extension, and for relative workspace/prompt_file). instruments = the known instrument names
// (to reject unknown instruments); nil skips that one check. Returns strict.Problems listing EVERY
// problem found (not just the first), each with a line where known.
//
// Syntax and type errors stop the checks that need the decoded score; every
// one of them is still reported.
func Parse(path string, data []byte, instruments map[string]bool) (*Score, error) {
	return ParseWith(path, data, ParseOptions{Instruments: instruments})
}

// ParseOptions are what Parse checks a score against beyond the score itself.
type ParseOptions struct {
	// Instruments are the known instrument names; nil skips that check.
	Instruments map[string]bool
	// MaxSheets refuses a score with more sheets; 0 means DefaultMaxSheets.
	MaxSheets int
	// Unrunnable says why a known instrument cannot run here (its executable
	// is not on PATH), or ""; nil skips that check.
	Unrunnable func(instrument string) string
}

// ParseWith is Parse with options.
func ParseWith(path string, data []byte, opts ParseOptions) (*Score, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("score path: %w", err)
	}
	maxSheets := opts.MaxSheets
	if maxSheets <= 0 {
		maxSheets = DefaultMaxSheets
	}
	p := &parser{file: path, abs: abs, data: data, pos: strict.Locate(data), instruments: opts.Instruments, maxSheets: maxSheets,
		unrunnable: opts.Unrunnable}
	var raw rawScore
	if err := strict.Decode(path, data, &raw); err != nil {
		var ps strict.Problems
		if !errors.As(err, &ps) {
			return nil, err
		}
		p.problems = ps
		// Unknown keys do not make the rest of the score unreadable: check it
		// too, so that one run of mzt validate lists everything.
		raw = rawScore{}
		if toml.Unmarshal(data, &raw) != nil && !decodeAround(data, ps, &raw) {
			return nil, ps
		}
	}
	s := p.build(&raw)
	if len(p.problems) > 0 {
		p.problems.Sort()
		return nil, p.problems
	}
	return s, nil
}

// parser accumulates the problems of one score.
type parser struct {
	file        string // as given, for messages
	abs         string
	data        []byte
	pos         strict.Positions
	instruments map[string]bool
	unrunnable  func(string) string
	maxSheets   int
	problems    strict.Problems
	// everyStage is the sample .Prev of templates that use it as a whole.
	everyStage map[string]PrevStage
	// downstream caches Score.dependents for stages templates name.
	downstream map[int][]bool
}

// at records a problem about key (a path such as "stage[1].attempts"), placed
// at the key or, when the score leaves it out, at its table.
func (p *parser) at(key, format string, args ...any) {
	line, col := p.pos.Pos(key)
	p.problems = append(p.problems, strict.Problem{File: p.file, Line: line, Col: col, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func stageKey(i int) string { return fmt.Sprintf("stage[%d]", i) }

func (p *parser) build(raw *rawScore) *Score {
	dir := filepath.Dir(p.abs)
	s := &Score{Path: p.abs, Dir: dir, Name: raw.Name, Source: p.data, Vars: raw.Vars}
	if s.Vars == nil {
		s.Vars = map[string]any{}
	}
	s.VoiceVars = p.voiceVars(raw.VoiceVars)
	set(&s.KeepWorktrees, raw.KeepWorktrees)

	s.ID = raw.ID
	if s.ID == "" {
		s.ID = strings.TrimSuffix(filepath.Base(p.abs), filepath.Ext(p.abs))
		if !ValidJobID(s.ID) {
			p.at("id", "the file name %q is not a valid job id: add id = \"...\" (1-100 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit)", s.ID)
		}
	} else if !ValidJobID(s.ID) {
		p.at("id", "id %q is not a valid job id: use 1-100 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit", s.ID)
	}
	if s.Name == "" {
		s.Name = s.ID
	}

	switch ws := raw.Workspace; {
	case ws == "":
		s.Workspace = defaultWorkspace(dir, s.ID)
	case filepath.IsAbs(ws):
		s.Workspace, s.workspaceSet = filepath.Clean(ws), true
	default:
		s.Workspace, s.workspaceSet = filepath.Join(dir, ws), true
	}

	s.MaxParallel = DefaultMaxParallel
	if raw.Run.MaxParallel != nil {
		s.MaxParallel = *raw.Run.MaxParallel
		if s.MaxParallel < 1 {
			p.at("run.max_parallel", "max_parallel must be 1 or more, not %d", s.MaxParallel)
		}
	}
	if raw.Run.FailFast != nil {
		s.FailFast = *raw.Run.FailFast
	}
	s.Hooks = raw.Hooks
	p.checkHooks(&s.Hooks)
	if c := raw.Run.MaxCostUSD; c != nil {
		if !(*c > 0) || math.IsInf(*c, 0) {
			p.at("run.max_cost_usd", "max_cost_usd must be a positive number of US dollars, not %v", *c)
		}
		s.MaxCostUSD = *c
	}
	s.Fleet, s.FleetReplace = p.placement(raw.Run)

	p.checkSettings("defaults", &raw.Defaults)
	if len(raw.Stage) == 0 {
		p.at("", "the score has no stages: add at least one [[stage]] with an id and a prompt")
	}
	s.Stages = p.stages(raw, dir, s)
	s.stageIndex = makeIndex(s.Stages)
	p.checkGraph(s)
	if n := s.TotalSheets(); n > p.maxSheets {
		// Checked before anything that costs per sheet.
		p.at("", "the score has %d sheets (voices of every stage together), more than the %d a job may have: split it, or raise max_sheets_per_job in conductor.toml", n, p.maxSheets)
		return s
	}
	p.checkTemplates(s)
	return s
}
