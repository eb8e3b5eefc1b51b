package score

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/config/strict"
)

// Read is the one way a score becomes a job: profiles, then the score
// checked against their names and the sheet limit, then the job id.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	instruments := filepath.Join(dir, "instruments")
	if err := os.MkdirAll(instruments, 0o700); err != nil {
		t.Fatal(err)
	}
	mine := "name = \"mine\"\nexecutable = \"true\"\n"
	if err := os.WriteFile(filepath.Join(instruments, "mine.toml"), []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	src := []byte("[defaults]\ninstrument = \"mine\"\n[[stage]]\nid = \"a\"\nvoices = 3\nprompt = \"true\"\n")
	path := filepath.Join(dir, "s.toml")

	sc, profiles, err := Read(path, src, ReadOptions{InstrumentsDir: instruments, JobID: "other"})
	if err != nil || sc.ID != "other" || profiles["mine"] == nil || profiles["shell"] == nil {
		t.Fatalf("Read = %v, %v, %v", sc, profiles, err)
	}

	// Without the profile, "mine" is unknown.
	var ps strict.Problems
	if _, _, err := Read(path, src, ReadOptions{InstrumentsDir: filepath.Join(dir, "none")}); !errors.As(err, &ps) ||
		!strings.Contains(err.Error(), `unknown instrument "mine"`) {
		t.Errorf("unknown instrument: %v", err)
	}
	// For another host, any instrument goes, and no profile is loaded.
	if sc, profiles, err := Read(path, src, ReadOptions{AnyInstrument: true}); err != nil || sc == nil || profiles != nil {
		t.Errorf("AnyInstrument: %v, %v, %v", sc, profiles, err)
	}
	if _, _, err := Read(path, src, ReadOptions{InstrumentsDir: instruments, MaxSheets: 2}); err == nil ||
		!strings.Contains(err.Error(), "the score has 3 sheets") {
		t.Errorf("MaxSheets 2: %v", err)
	}
	if _, _, err := Read(path, src, ReadOptions{InstrumentsDir: instruments, JobID: "no/slash"}); !errors.Is(err, ErrJobID) {
		t.Errorf("bad job id: %v", err)
	}
	if err := os.WriteFile(filepath.Join(instruments, "bad.toml"), []byte("nmae = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Read(path, src, ReadOptions{InstrumentsDir: instruments}); !errors.Is(err, ErrProfiles) || !errors.As(err, &ps) {
		t.Errorf("bad profile: %v", err)
	}
}
