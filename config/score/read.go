package score

import (
	"errors"
	"fmt"
	"math"

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
	sc, err := ParseWith(path, data, ParseOptions{Instruments: names, MaxSheets: opts.MaxSheets})
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
