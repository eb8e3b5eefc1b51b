package jobs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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

// One worker makes the run folders the job actors ask for, in order; it
// stops once, and asks after its stop are dropped, not a panic.
func TestRunPrepMakesFoldersThenStops(t *testing.T) {
	base := t.TempDir()
	p := startRunPrep(nil)
	var dirs []string
	for i := range 20 {
		dir := filepath.Join(base, "run", string(rune('a'+i)))
		dirs = append(dirs, dir)
		p.ask(prepRequest{dir: dir, logs: []string{filepath.Join(dir, "sheet-1.try-1.stdout")}})
	}
	last := filepath.Join(dirs[len(dirs)-1], "sheet-1.try-1.stdout")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(last); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last run folder asked for was not made")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "tries.journal")); err != nil {
			t.Fatalf("run folder %s: %v", d, err)
		}
	}
	p.stop()
	p.stop()
	p.ask(prepRequest{dir: filepath.Join(base, "late")})
	var none *runPrep
	none.ask(prepRequest{dir: filepath.Join(base, "none")})
	none.stop()
}
