package jobs

import (
	"os"
	"path/filepath"
	"testing"
)

// The queued job's early log files are made off the mailbox, so they may
// be made after the try already started and wrote: its output must stay.
func TestCreateMissingKeepsOutput(t *testing.T) {
	dir := t.TempDir()
	written, missing := filepath.Join(dir, "sheet-1.try-1.stdout"), filepath.Join(dir, "sheet-1.try-1.stderr")
	if err := os.WriteFile(written, []byte("output\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	createMissing([]string{written, missing})
	if b, err := os.ReadFile(written); err != nil || string(b) != "output\n" {
		t.Fatalf("written log after createMissing: %q, %v", b, err)
	}
	if st, err := os.Stat(missing); err != nil || st.Size() != 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("missing log: %v, %v", st, err)
	}
}
