package sheetrun

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// FreshnessMark returns the modification time of the marker file at path,
// creating it first when it does not exist. A marker made before a run (or a
// try) starts is its boundary for Check.Since: the kernel stamps files with a
// coarse clock that can lag time.Now by a tick, so comparing a file's mtime
// with a clock reading could call a file written just after the start
// stale; comparing it with another file's mtime cannot. An existing marker
// is kept, so a run's boundary survives restarts of the conductor.
func FreshnessMark(path string) (time.Time, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrExist):
		return time.Time{}, fmt.Errorf("freshness marker: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("freshness marker: %w", err)
	}
	return st.ModTime(), nil
}

// stale says why the file at path is too old for c, or "" when it is fresh
// enough or missing (the check itself then says that it is missing).
func stale(path string, c Check) string {
	st, err := os.Stat(path)
	if err != nil || !st.ModTime().Before(c.Since) {
		return ""
	}
	what := c.SinceWhat
	if what == "" {
		what = "run"
	}
	return fmt.Sprintf("%s was not written by this %s (last modified %s, before the %s started): an older file does not count (set since = \"any\" on the validation to accept it)",
		c.Path, what, st.ModTime().Format(time.RFC3339), what)
}
