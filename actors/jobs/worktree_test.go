package jobs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The voices of a fan-out stage make their worktrees at once; git's own
// worktree commands fail when run at the same time on one repository (one
// reads another's half-written worktree), so mzt serialises them. Without
// the lock this failed a few rounds in fifty here.
func TestWorktreesMadeAtOnce(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	for _, args := range [][]string{{"init", "-q"}, {"-c", "user.name=mzt", "-c", "user.email=mzt@example.com", "commit", "-q", "--allow-empty", "-m", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	base := t.TempDir()
	const rounds, voices = 8, 4
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, voices)
		for v := range voices {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "r" + strconv.Itoa(r) + "-v" + strconv.Itoa(v)
				w := &worktree{repo: repo, path: filepath.Join(base, name), branch: "mzt/t/" + name}
				errs[v] = w.ensure(context.Background())
			}()
		}
		wg.Wait()
		for v, err := range errs {
			if err != nil {
				t.Fatalf("round %d voice %d: %v", r, v, err)
			}
			if _, err := os.Stat(filepath.Join(base, "r"+strconv.Itoa(r)+"-v"+strconv.Itoa(v), ".git")); err != nil {
				t.Fatalf("round %d voice %d: no worktree: %v", r, v, err)
			}
		}
	}
	out, err := exec.Command("git", "-C", repo, "worktree", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "\n"); n != rounds*voices+1 {
		t.Fatalf("git lists %d worktrees, want %d:\n%s", n, rounds*voices+1, out)
	}
}
