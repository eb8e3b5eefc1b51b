package sheetrun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A file older than the check's Since fails every file check; a newer one,
// or any file when Since is zero, is judged on its content as before.
func TestValidateSince(t *testing.T) {
	ws := t.TempDir()
	mark, err := FreshnessMark(filepath.Join(t.TempDir(), "run.start"))
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(ws, "old.md")
	if err := os.WriteFile(old, []byte("## Summary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(old, mark.Add(-time.Hour), mark.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "new.md"), []byte("## Summary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		check Check
		pass  bool
	}{
		{"old file_exists", Check{Type: CheckFileExists, Path: "old.md", Since: mark}, false},
		{"old content_contains", Check{Type: CheckContentContains, Path: "old.md", Contains: "Summary", Since: mark}, false},
		{"old content_regex", Check{Type: CheckContentRegex, Path: "old.md", Pattern: "^## ", Since: mark}, false},
		{"old file_modified", Check{Type: CheckFileModified, Path: "old.md", Since: mark}, false},
		{"new file_exists", Check{Type: CheckFileExists, Path: "new.md", Since: mark}, true},
		{"new content_contains", Check{Type: CheckContentContains, Path: "new.md", Contains: "Summary", Since: mark}, true},
		{"new content_regex", Check{Type: CheckContentRegex, Path: "new.md", Pattern: "^## ", Since: mark}, true},
		{"old, any age", Check{Type: CheckFileExists, Path: "old.md"}, true},
		{"command ignores since", Check{Type: CheckCommand, Run: "true", Since: mark}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Validate(context.Background(), ws, os.Environ(), []Check{tc.check}, Snapshot{})[0]
			if r.Passed != tc.pass {
				t.Fatalf("passed = %v, want %v (%s)", r.Passed, tc.pass, r.Detail)
			}
			if !tc.pass && !strings.Contains(r.Detail, "not written by this run") {
				t.Errorf("detail %q does not say the file is stale", r.Detail)
			}
		})
	}
}

// The marker keeps its first time: a run's boundary does not move when a
// later try (or a restarted conductor) asks for it again.
func TestFreshnessMarkIsKept(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run.start")
	first, err := FreshnessMark(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, first.Add(-time.Minute), first.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	again, err := FreshnessMark(p)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(first.Add(-time.Minute)) {
		t.Fatalf("marker time moved: %v, want %v", again, first.Add(-time.Minute))
	}
	if _, err := FreshnessMark(filepath.Join(p, "nope", "x")); err == nil {
		t.Fatal("a marker that cannot be made must be an error")
	}
}
