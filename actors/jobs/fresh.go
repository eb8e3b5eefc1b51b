package jobs

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/sheetrun"
)

// runMarker is the file in a run's log folder whose mtime is the run's start
// for validations with since = "run"; base+tryMarker is a try's.
const (
	runMarker = "run.start"
	tryMarker = ".start"
)

// markFreshness sets Since on the checks that have a freshness boundary,
// from the run's and the try's marker files, made when missing. Markers live
// in the log folder, which a sheet has no reason to touch, and are stamped
// by the same kernel clock as the files the checks look at.
func markFreshness(base string, checks []sheetrun.Check, create bool) error {
	var run, try time.Time
	var err error
	mark := func(path string) (time.Time, error) {
		if create {
			return sheetrun.FreshnessMark(path)
		}
		st, err := os.Stat(path)
		if err != nil {
			return time.Time{}, fmt.Errorf("freshness marker: %w", err)
		}
		return st.ModTime(), nil
	}
	for i := range checks {
		c := &checks[i]
		switch c.SinceWhat {
		case score.SinceRun:
			if run.IsZero() {
				if run, err = mark(filepath.Join(filepath.Dir(base), runMarker)); err != nil {
					return err
				}
			}
			c.Since = run
		case score.SinceTry:
			if try.IsZero() {
				if try, err = mark(base + tryMarker); err != nil {
					return err
				}
			}
			c.Since = try
		}
	}
	return nil
}
