package jobs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/internal/tryjournal"
)

// A try's exit is found in its run's journal (this supervisor's way) or in
// its own exit file (the in-conductor wrapper's, an older supervisor's);
// a try with neither did not end.
func TestReadExitFromJournalOrFile(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, tryjournal.Name)
	ended := time.UnixMilli(1_700_000_000_123)
	if err := tryjournal.AppendExit(journal, "sheet-1.try-1.exit", 0, ended); err != nil {
		t.Fatal(err)
	}
	if err := tryjournal.AppendExit(journal, "sheet-3.try-1.exit", 137, ended); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(attemptBase(dir, 2, 1)+".exit", []byte("5\n"), 0o600)
	// A prompt that reads like an exit record is no exit.
	if err := tryjournal.AppendPrompt(attemptBase(dir, 4, 1)+".prompt", []byte("0 1")); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		num, try int
		code     int
		ok       bool
	}{{1, 1, 0, true}, {2, 1, 5, true}, {3, 1, 137, true}, {1, 2, 0, false}, {4, 1, 0, false}} {
		var run runExits
		code, ok := run.code(attemptBase(dir, c.num, c.try))
		if ok != c.ok || (ok && code != c.code) {
			t.Errorf("sheet %d try %d: %d, %v; want %d, %v", c.num, c.try, code, ok, c.code, c.ok)
		}
		if e, ok := readExit(attemptBase(dir, c.num, c.try)); ok != c.ok || (ok && e.Code != c.code) {
			t.Errorf("readExit of sheet %d try %d: %+v, %v", c.num, c.try, e, ok)
		}
	}
	if e, ok := readExit(attemptBase(dir, 1, 1)); !ok || !e.Ended.Equal(ended) {
		t.Errorf("end time from the journal: %v, %v", e.Ended, ok)
	}
}
