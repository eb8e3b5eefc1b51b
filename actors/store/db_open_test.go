package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fillAndClose writes enough rows to spread the tables over many pages.
func fillAndClose(t *testing.T, path string) {
	t.Helper()
	db, err := Open(path, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := db.write.Exec(`INSERT INTO events (time, kind, detail) VALUES (?, 'test', ?)`,
			i, strings.Repeat(fmt.Sprint(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	fillAndClose(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte(strings.Repeat("\xde\xad\xbe\xef", 2048))
	if _, err := f.WriteAt(garbage, 4*4096); err != nil { // middle pages, header intact
		t.Fatal(err)
	}
	f.Close()

	_, err = Open(path, discardLog())
	if err == nil {
		t.Fatal("Open of a corrupt file succeeded")
	}
	for _, want := range []string{path + " is corrupt (", "mv " + path + " " + path + ".corrupt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	// A file left readable by a wider umask is narrowed too.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.write.Exec(`INSERT INTO events (time, kind) VALUES (1, 'test')`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, perm)
		}
	}
}
