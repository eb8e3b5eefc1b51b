package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/cgroup"
)

// outputKept bounds what a failed command's output adds to its error.
const outputKept = 2048

// tailBuffer keeps the last outputKept bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > outputKept {
		t.b = append(t.b[:0], t.b[len(t.b)-outputKept:]...)
	}
	return len(p), nil
}

// runCommand runs a hook's command (bash -c) in its own process group, in
// the job's workspace when it still exists, with the hook's variables. At
// its timeout, or when ctx ends, the group gets SIGTERM and SIGKILL after
// grace; once the command exits, whatever it left in its group is killed.
//
// The reaper knows it as it knows a sheet: by a token in its environment
// (so that what it leaves behind is killed, and nothing of it survives a
// crash past the next start) and as a leader it must not reap. Where the
// conductor has cgroups it runs in one of its own, which dies with it.
func runCommand(ctx context.Context, h store.HookRow, grace time.Duration, tracker *reaper.Tracker, token string,
	cgroups *cgroup.Tree) (err error) {
	cmd := exec.Command("bash", "-c", h.Run)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cgroups != nil {
		if cg, cerr := cgroups.NewSheet(strings.ReplaceAll(token, "/", "_")); cerr == nil {
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, cg.FD()
			defer func() {
				if kerr := cg.Kill(); kerr != nil {
					err = errors.Join(err, kerr)
				}
			}()
		}
	}
	if st, err := os.Stat(h.Dir); err == nil && st.IsDir() {
		cmd.Dir = h.Dir
	}
	cmd.Env = append(append(os.Environ(), envList(h.Env)...), reaper.TokenEnv+"="+token)
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	tracker.SheetStarting(token)
	defer tracker.SheetEnded(token)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	pgid := cmd.Process.Pid
	tracker.SheetStarted(token, pgid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timeout := time.NewTimer(h.Timeout)
	defer timeout.Stop()
	select {
	case err = <-done:
	case <-timeout.C:
		err = stopGroup(pgid, grace, done)
		err = fmt.Errorf("timed out after %s (%v)", h.Timeout, err)
	case <-ctx.Done():
		err = stopGroup(pgid, grace, done)
		err = fmt.Errorf("interrupted: the conductor is stopping (%v)", err)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // nothing of the hook outlives it
	if err != nil {
		if tail := strings.TrimSpace(string(out.b)); tail != "" {
			return fmt.Errorf("%w: %s", err, lastLine(tail))
		}
		return err
	}
	return nil
}

func stopGroup(pgid int, grace time.Duration, done <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return <-done
	}
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// postRetries are the retries of a URL hook after its first request.
const postRetries = 3

// post sends the hook's body to its URL, retrying a failed request up to
// three times with a doubling backoff; each request is bounded by the
// hook's timeout. Only a 2xx answer counts.
func post(ctx context.Context, client *http.Client, h store.HookRow, backoff time.Duration) error {
	var last error
	for try := 0; try <= postRetries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("interrupted after %d tries: %w", try, last)
			case <-time.After(backoff << (try - 1)):
			}
		}
		if last = postOnce(ctx, client, h); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%d tries: %w", postRetries+1, last)
}

func postOnce(ctx context.Context, client *http.Client, h store.HookRow) error {
	rctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, h.URL, bytes.NewReader([]byte(h.Body)))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mzt-hook")
	resp, err := client.Do(req)
	if err != nil {
		var uerr interface{ Timeout() bool }
		if errors.As(err, &uerr) && uerr.Timeout() {
			return fmt.Errorf("no answer within %s", h.Timeout)
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
