package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/messages"
)

// Voices of a stage with worktree = true each work in a git worktree of the
// score's workspace, on a branch of their own. mzt runs the git CLI rather
// than a Go implementation of git: worktrees, branches and the repository's
// own settings (hooks, config, sparse checkouts) then behave exactly as
// they do for the user's git, and the code is a few commands.

// gitTimeout bounds one git command: they are local and quick.
const gitTimeout = 30 * time.Second

// worktree is one voice's worktree.
type worktree struct {
	repo, path, branch string
}

// ensure makes the worktree unless it is already there (a later try of the
// same voice, or a re-run): a new branch from the repository's HEAD, or the
// voice's branch as an earlier run left it.
func (w *worktree) ensure(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(w.path, ".git")); err == nil {
		return nil
	}
	if _, err := git(ctx, w.repo, "rev-parse", "--git-dir"); err != nil {
		return fmt.Errorf("worktree = true needs the score's workspace %s to be a git repository (git init it, or point workspace at one): %w", w.repo, err)
	}
	if _, err := git(ctx, w.repo, "rev-parse", "--verify", "--quiet", "HEAD"); err != nil {
		return fmt.Errorf("worktree = true needs a commit in %s to branch from: %w", w.repo, err)
	}
	unlock, err := lockWorktrees(ctx, w.repo)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(w.path, ".git")); err == nil {
		return nil // made while this waited for the lock
	}
	// A worktree whose folder was deleted is still registered until pruned.
	git(ctx, w.repo, "worktree", "prune")
	if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
		return fmt.Errorf("worktree folder: %w", err)
	}
	args := []string{"worktree", "add", "-b", w.branch, w.path, "HEAD"}
	if _, err := git(ctx, w.repo, "rev-parse", "--verify", "--quiet", "refs/heads/"+w.branch); err == nil {
		args = []string{"worktree", "add", w.path, w.branch}
	}
	if _, err := git(ctx, w.repo, args...); err != nil {
		return fmt.Errorf("create worktree %s on branch %s: %w", w.path, w.branch, err)
	}
	return nil
}

// remove deletes the worktree's folder and registration; the branch, with
// whatever the voice committed, stays.
func (w *worktree) remove(ctx context.Context) error {
	if _, err := os.Stat(w.path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockWorktrees(ctx, w.repo)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := git(ctx, w.repo, "worktree", "remove", "--force", w.path); err != nil {
		return fmt.Errorf("remove worktree %s: %w", w.path, err)
	}
	return nil
}

// worktreesOf lists the worktrees of a job's voices, for removal at its end.
func worktreesOf(sc *score.Score) []*worktree {
	var out []*worktree
	for i, st := range sc.Stages {
		if !st.Worktree {
			continue
		}
		for _, sh := range sc.VoiceSheets(i) {
			if ws, err := sc.SheetWorkspace(sh, sc.Data(sh, 1, nil)); err == nil {
				out = append(out, &worktree{repo: sc.Workspace, path: ws, branch: sc.WorktreeBranch(sh)})
			}
		}
	}
	return out
}

// gitProgress matches the progress lines git prints to stderr before it
// fails ("Preparing worktree (new branch ...)"): an error shows git's reason.
var gitProgress = regexp.MustCompile(`(?m)^Preparing worktree .*\n`)

// lockWorktrees serialises the worktree commands on one repository, across
// the voices of every job and every conductor of the machine: git's own
// worktree add, remove and prune are not safe run at once (one reads the
// half-written files of another's new worktree and fails). The lock is a
// file in the repository's common git folder, held with flock.
func lockWorktrees(ctx context.Context, repo string) (unlock func(), err error) {
	dir, err := git(ctx, repo, "rev-parse", "--git-common-dir")
	if err != nil {
		return nil, fmt.Errorf("find the git folder of %s: %w", repo, err)
	}
	dir = strings.TrimSpace(dir)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repo, dir)
	}
	f, err := os.OpenFile(filepath.Join(dir, "mzt-worktrees.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the worktrees of %s: %w", repo, err)
	}
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing drops the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock the worktrees of %s: %w", repo, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("another worktree command on %s held its lock for %s", repo, gitTimeout)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// git runs one git command in dir and returns its output; an error carries
// what git said.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", errors.New(truncate(gitProgress.ReplaceAllString(msg, ""), 500))
	}
	return out.String(), nil
}

// worktreeState is where a job is in removing its voices' worktrees.
type worktreeState int

const (
	worktreesThere    worktreeState = iota
	worktreesRemoving               // off the mailbox; the job finishes after
	worktreesGone
)

// worktreesRemoved: the job's worktrees are gone; it finishes as it was to.
type worktreesRemoved struct {
	status messages.JobState
	reason string
}

// removeWorktrees starts removing the job's worktrees (branches kept) when
// it has any and keeps none, and reports whether the job must wait for it:
// the job is finished only once they are gone, so that a user who sees it
// finished finds them gone.
func (j *jobActor) removeWorktrees(ctx actor.Context, status messages.JobState, reason string) bool {
	switch {
	case j.worktrees == worktreesRemoving:
		return true
	case j.worktrees == worktreesGone || j.sc.KeepWorktrees || !hasWorktrees(j.sc):
		return false
	}
	j.worktrees = worktreesRemoving
	sc, log := j.sc, j.log
	done := &worktreesRemoved{status: status, reason: reason}
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		wts := worktreesOf(sc)
		for _, w := range wts {
			if err := w.remove(context.Background()); err != nil {
				log.Warn("could not remove a voice's worktree", "path", w.path, "err", err)
			}
		}
		if len(wts) > 0 {
			if unlock, err := lockWorktrees(context.Background(), sc.Workspace); err == nil {
				git(context.Background(), sc.Workspace, "worktree", "prune")
				unlock()
			}
		}
		return done
	}, func(err error) any {
		log.Error("removing worktrees failed", "err", err)
		return done
	})
	return true
}

func hasWorktrees(sc *score.Score) bool {
	for _, st := range sc.Stages {
		if st.Worktree {
			return true
		}
	}
	return false
}
