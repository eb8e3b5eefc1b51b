package tryjournal

import (
	"path/filepath"
	"testing"
)

// Prepare runs while a run's first try may already be writing: it must
// never truncate or replace a journal that holds records.
func TestPrepareKeepsRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, Name)
	if err := Append(path, "sheet-1.try-1.prompt", []byte("true")); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	got, ok, err := Find(path, "sheet-1.try-1.prompt")
	if err != nil || !ok || string(got) != "true" {
		t.Fatalf("after a second Prepare: %q %v %v, want the record kept", got, ok, err)
	}
}
