package score

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mzt-dev/mzt/config/instrument"
)

// NoSheetLimit is ReadOptions.MaxSheets for a score already accepted as a
// job (a recovered run): a limit lowered since must not strand it.
const NoSheetLimit = math.MaxInt

// ErrProfiles and ErrJobID say which step of Read failed before or after the
// score itself; a score's own problems are strict.Problems.
var (
	ErrProfiles = errors.New("instrument profiles")
	ErrJobID    = errors.New("job id")
)

// ReadOptions are what Read checks a score against: the same for mzt
// validate, mzt run, a submission and a recovered job.
type ReadOptions struct {
	// InstrumentsDir holds the user's instrument profiles.
	InstrumentsDir string
	// AnyInstrument skips checking instrument names: the score is for a
	// conductor on another host, which knows its own.
	AnyInstrument bool
	// MaxSheets is the conductor's max_sheets_per_job; 0 means DefaultMaxSheets.
	MaxSheets int
	// JobID, when set, replaces the score's id (mzt run --id).
	JobID string
	// CheckRunnable refuses a stage whose instrument's executable is not on
	// PATH (mzt validate, mzt run, a submission; not a recovered job).
	CheckRunnable bool
}

// Read loads the instrument profiles, parses the score from data (path as for
// Parse) and applies the job id: the one way a score becomes a job. The
// profiles are nil with AnyInstrument.
func Read(path string, data []byte, opts ReadOptions) (*Score, map[string]*instrument.Profile, error) {
	var profiles map[string]*instrument.Profile
	var names map[string]bool
	if !opts.AnyInstrument {
		var err error
		profiles, err = instrument.Load(opts.InstrumentsDir)
		if err != nil {
			return nil, nil, fmt.Errorf("%w:\n%w", ErrProfiles, err)
		}
		names = make(map[string]bool, len(profiles))
		for n := range profiles {
			names[n] = true
		}
	}
	po := ParseOptions{Instruments: names, MaxSheets: opts.MaxSheets}
	if opts.CheckRunnable && profiles != nil {
		po.Unrunnable = func(name string) string { return unrunnable(profiles[name]) }
	}
	sc, err := ParseWith(path, data, po)
	if err != nil {
		return nil, nil, err
	}
	if opts.JobID != "" {
		if err := sc.SetID(opts.JobID); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrJobID, err)
		}
	}
	return sc, profiles, nil
}

// unrunnable says why the profile's executable cannot be started here, or "".
// A profile that sets its own PATH is looked up in that one.
func unrunnable(p *instrument.Profile) string {
	if p == nil {
		return ""
	}
	exe := p.Executable
	if path, ok := p.Env["PATH"]; ok && !strings.ContainsRune(exe, '/') {
		for _, dir := range filepath.SplitList(path) {
			if dir == "" {
				dir = "."
			}
			if isExecutable(filepath.Join(dir, exe)) {
				return ""
			}
		}
		return fmt.Sprintf("runs %q, which is not on its PATH (%s)", exe, path)
	}
	if _, err := exec.LookPath(exe); err != nil {
		if strings.ContainsRune(exe, '/') {
			return fmt.Sprintf("runs %q, which is missing or not executable", exe)
		}
		return fmt.Sprintf("runs %q, which is not on PATH", exe)
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
