package logfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// files returns conductor.log's rotated generations oldest first, then the
// live file, and fails if more than maxFiles rotated files exist.
func files(t *testing.T, path string, maxFiles int) []string {
	t.Helper()
	matches, err := filepath.Glob(path + ".*")
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) > maxFiles {
		t.Errorf("%d rotated files %v, want at most %d", len(matches), matches, maxFiles)
	}
	var out []string
	for i := len(matches); i >= 1; i-- {
		name := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(name); err != nil {
			t.Errorf("rotated files are not numbered 1..%d: %s missing", len(matches), name)
		}
		out = append(out, name)
	}
	return append(out, path)
}

func readLines(t *testing.T, names []string, maxBytes int64) []string {
	t.Helper()
	var lines []string
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) > maxBytes {
			t.Errorf("%s is %d bytes, over the %d limit", name, len(data), maxBytes)
		}
		if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
			t.Errorf("%s ends in the middle of a line: a line was split by rotation", name)
		}
		lines = append(lines, strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")...)
	}
	return lines
}

func line(i int) string {
	return fmt.Sprintf(`{"msg":"line %05d","pad":"%s"}`, i, strings.Repeat("x", i%17))
}

func TestRotationKeepsMaxFilesAndAContiguousTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conductor.log")
	const maxBytes, maxFiles, n = 300, 3, 500
	w, err := Open(path, maxBytes, maxFiles)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := w.Write([]byte(line(i) + "\n")); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files(t, path, maxFiles) {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	got := readLines(t, files(t, path, maxFiles), maxBytes)
	// What is kept is the newest lines, in order, with none missing.
	if len(got) == 0 || got[len(got)-1] != line(n-1) {
		t.Fatalf("the last line written is not the last line kept: %q", got[len(got)-1])
	}
	first := n - len(got)
	for i, l := range got {
		if l != line(first+i) {
			t.Fatalf("kept line %d is %q, want %q: a line was lost or reordered", i, l, line(first+i))
		}
	}
	// maxFiles full files plus the live one: at least maxFiles*(limit-line)/line lines.
	if len(got) < maxFiles*(maxBytes/60) {
		t.Errorf("only %d lines kept in %d files", len(got), maxFiles+1)
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conductor.log")
	const maxBytes, writers, perWriter = 1000, 8, 200
	// Room for everything, so every line written must be somewhere.
	w, err := Open(path, maxBytes, 100) // about 33 rotations happen
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if _, err := fmt.Fprintf(w, "writer %d line %04d\n", g, i); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	w.Close()
	got := readLines(t, files(t, path, 100), maxBytes)
	var want []string
	for g := range writers {
		for i := range perWriter {
			want = append(want, fmt.Sprintf("writer %d line %04d", g, i))
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %d lines, want %d, each exactly once", len(got), len(want))
	}
}

func TestLineLongerThanLimitIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conductor.log")
	w, err := Open(path, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("y", 100) + "\n"
	w.Write([]byte("short\n"))
	w.Write([]byte(long))
	w.Write([]byte("after\n"))
	w.Close()
	all := ""
	for _, f := range files(t, path, 2) {
		data, _ := os.ReadFile(f)
		all += string(data)
	}
	if all != "short\n"+long+"after\n" {
		t.Errorf("content across files = %q", all)
	}
}

func TestReopenAppendsAndCountsExistingSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conductor.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("o", 90)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("new line!\n")) // 91 + 10 > 100: rotates first
	w.Close()
	if data, _ := os.ReadFile(path); string(data) != "new line!\n" {
		t.Errorf("live file = %q, want only the new line", data)
	}
	if data, _ := os.ReadFile(path + ".1"); len(data) != 91 {
		t.Errorf("rotated file has %d bytes, want the 91 old ones", len(data))
	}
}

func TestWriteAfterClose(t *testing.T) {
	w, err := Open(filepath.Join(t.TempDir(), "conductor.log"), 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := w.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want os.ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSetLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conductor.log")
	w, err := Open(path, 1<<20, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write([]byte("first\n"))
	w.SetLimits(10, 1)
	w.Write([]byte("second\n"))
	w.Write([]byte("third\n"))
	if data, _ := os.ReadFile(path); string(data) != "third\n" {
		t.Errorf("live file = %q after lowering the limit", data)
	}
	if _, err := os.Stat(path + ".2"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a second rotated file exists with max_files 1")
	}
}
