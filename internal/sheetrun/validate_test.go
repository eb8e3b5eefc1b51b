package sheetrun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestValidateFileChecks(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	writeFile(t, filepath.Join(ws, "merged.md"), "# Title\n\n## Summary\nall good\n")
	abs := filepath.Join(ws, "sub", "abs.txt")
	writeFile(t, abs, "absolute")
	checks := []struct {
		c    Check
		pass bool
		why  string
	}{
		{Check{Type: CheckFileExists, Path: "merged.md"}, true, "exists"},
		{Check{Type: CheckFileExists, Path: abs}, true, "exists"},
		{Check{Type: CheckFileExists, Path: "sub"}, true, "directory"},
		{Check{Type: CheckFileExists, Path: "missing.md"}, false, "does not exist"},
		{Check{Type: CheckFileExists}, false, "no path"},
		{Check{Type: CheckContentContains, Path: "merged.md", Contains: "all good"}, true, "contains"},
		{Check{Type: CheckContentContains, Path: "merged.md", Contains: "all bad"}, false, "does not contain"},
		{Check{Type: CheckContentContains, Path: "missing.md", Contains: "x"}, false, "does not exist"},
		{Check{Type: CheckContentContains, Path: "merged.md"}, false, "no text"},
		{Check{Type: CheckContentRegex, Path: "merged.md", Pattern: `(?m)^## Summary`}, true, "matches"},
		{Check{Type: CheckContentRegex, Path: "merged.md", Pattern: `^## Summary`}, false, "does not match"},
		{Check{Type: CheckContentRegex, Path: "merged.md", Pattern: `([a-z`}, false, "invalid pattern"},
		{Check{Type: CheckContentRegex, Path: "missing.md", Pattern: `x`}, false, "does not exist"},
		{Check{Type: "file_smells_nice", Path: "merged.md"}, false, "unknown validation type"},
	}
	var all []Check
	for _, tc := range checks {
		all = append(all, tc.c)
	}
	// One call for all: every check runs even after failures, in order.
	res := Validate(context.Background(), ws, nil, all, nil)
	if len(res) != len(checks) {
		t.Fatalf("%d results for %d checks", len(res), len(checks))
	}
	for i, tc := range checks {
		r := res[i]
		if r.Type != tc.c.Type || r.Passed != tc.pass || !strings.Contains(r.Detail, tc.why) {
			t.Errorf("%+v: got %+v, want passed=%v with %q", tc.c, r, tc.pass, tc.why)
		}
	}
}

func TestContainsAcrossChunks(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	// The needle straddles the first 64 KiB read.
	writeFile(t, filepath.Join(ws, "big.txt"), strings.Repeat("x", 64<<10-3)+"NEEDLE"+strings.Repeat("y", 100<<10))
	res := Validate(context.Background(), ws, nil, []Check{
		{Type: CheckContentContains, Path: "big.txt", Contains: "NEEDLE"},
		{Type: CheckContentContains, Path: "big.txt", Contains: "xNEEDLEy"},
		{Type: CheckContentContains, Path: "big.txt", Contains: "NEEDLES"},
	}, nil)
	if !res[0].Passed || !res[1].Passed || res[2].Passed {
		t.Errorf("results %+v", res)
	}
}

func TestValidateFileModified(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	same := filepath.Join(ws, "same.txt")
	rewritten := filepath.Join(ws, "rewritten.txt")
	touched := filepath.Join(ws, "touched.txt")
	writeFile(t, same, "hello")
	writeFile(t, rewritten, "hello")
	writeFile(t, touched, "hello")
	checks := []Check{
		{Type: CheckFileModified, Path: "same.txt"},
		{Type: CheckFileModified, Path: "rewritten.txt"},
		{Type: CheckFileModified, Path: "touched.txt"},
		{Type: CheckFileModified, Path: "new.txt"},
		{Type: CheckFileModified, Path: "never.txt"},
	}
	before := TakeSnapshot(ws, checks)
	if st := before[same]; !st.Exists || st.Size != 5 || st.Hash == "" {
		t.Fatalf("snapshot of same.txt: %+v", st)
	}
	if before[filepath.Join(ws, "new.txt")].Exists {
		t.Fatal("snapshot says new.txt exists")
	}

	// Same size, and the mtime put back: only the content hash can tell.
	mtime := before[rewritten].ModTime
	writeFile(t, rewritten, "HELLO")
	if err := os.Chtimes(rewritten, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	later := mtime.Add(time.Minute)
	if err := os.Chtimes(touched, later, later); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ws, "new.txt"), "fresh")

	res := Validate(context.Background(), ws, nil, checks, before)
	want := []struct {
		pass bool
		why  string
	}{
		{false, "not modified"},
		{true, "changed content"},
		{true, "mtime changed"},
		{true, "created"},
		{false, "does not exist"},
	}
	for i, w := range want {
		if res[i].Passed != w.pass || !strings.Contains(res[i].Detail, w.why) {
			t.Errorf("%s: got %+v, want passed=%v with %q", checks[i].Path, res[i], w.pass, w.why)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	writeFile(t, filepath.Join(ws, "a.txt"), "x")
	env := append(os.Environ(), "MZT_CHECK_VAR=bar")
	res := Validate(context.Background(), ws, env, []Check{
		{Type: CheckCommand, Run: "test -f a.txt"},
		{Type: CheckCommand, Run: "echo boom >&2; exit 3"},
		{Type: CheckCommand, Run: `test "$MZT_CHECK_VAR" = bar`},
		{Type: CheckCommand, Run: "head -c 10000 /dev/zero | tr '\\0' a; echo END; exit 1"},
		{Type: CheckCommand, Run: "  "},
	}, nil)
	if !res[0].Passed || res[0].Detail != "exit code 0" {
		t.Errorf("pass: %+v", res[0])
	}
	if res[1].Passed || !strings.Contains(res[1].Detail, "exit code 3") || !strings.Contains(res[1].Detail, "boom") {
		t.Errorf("fail: %+v", res[1])
	}
	if !res[2].Passed {
		t.Errorf("env: %+v", res[2])
	}
	if d := res[3].Detail; res[3].Passed || !strings.HasSuffix(d, "aaaEND") || len(d) > commandTail+40 {
		t.Errorf("long output: %d bytes of detail: %.80q", len(d), d)
	}
	if res[4].Passed || !strings.Contains(res[4].Detail, "no command") {
		t.Errorf("empty: %+v", res[4])
	}
}

func TestValidateCommandTimeoutKillsItsGroup(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	res := Validate(context.Background(), ws, nil, []Check{
		{Type: CheckCommand, Run: "sleep 60 & echo $! > bg.pid; echo waiting; wait", Timeout: 500 * time.Millisecond},
	}, nil)
	if res[0].Passed || !strings.Contains(res[0].Detail, "timed out after 500ms") || !strings.Contains(res[0].Detail, "waiting") {
		t.Fatalf("result %+v", res[0])
	}
	bg := readPID(t, filepath.Join(ws, "bg.pid"))
	killLater(t, bg)
	waitGone(t, bg)
}

func TestValidateCanceled(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Validate(ctx, ws, nil, []Check{
		{Type: CheckCommand, Run: "true"},
		{Type: CheckFileExists, Path: "."},
	}, nil)
	if res[0].Passed || !strings.Contains(res[0].Detail, "canceled") || !res[1].Passed {
		t.Errorf("results %+v", res)
	}
}
