package cli

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/internal/pidfile"
	"github.com/mzt-dev/mzt/messages"
)

// stopFlags are shared by stop and restart.
type stopFlags struct {
	Force   bool          `help:"Interrupt running sheets (they run again at the next start); kill the conductor if it has not exited by --timeout." xor:"mode"`
	Drain   bool          `help:"Accept no new jobs, let running sheets finish, then stop." xor:"mode"`
	Timeout time.Duration `help:"How long to wait for the conductor to exit." default:"30s"`

	handover bool // leave running sheets to the next conductor (restart)
}

// StopCmd is `mzt stop`.
type StopCmd struct {
	stopFlags
}

func (c *StopCmd) Run(g *Globals) error {
	res, err := c.stop(g)
	if err != nil {
		return err
	}
	switch {
	case !res.found:
		return failf(exitFailed, "", "conductor is not running")
	case res.killed:
		g.printf("conductor did not stop within %s; killed (PID %d)\n", c.Timeout, res.pid)
	default:
		g.printf("conductor stopped\n")
	}
	return nil
}

// stopResult is what stop did: found is false when no conductor ran; killed
// is true when --force had to SIGKILL it.
type stopResult struct {
	found  bool
	killed bool
	pid    int
}

// maxShutdownAsk bounds the shutdown request itself; a frozen conductor
// accepts the connection but never answers.
const maxShutdownAsk = 10 * time.Second

// stop asks the conductor to shut down and waits for its process to exit.
// The conductor is found by its PID lock or, when the PID file was deleted
// under it, by its socket answering with its PID.
func (c *stopFlags) stop(g *Globals) (stopResult, error) {
	st, err := pidfile.Inspect(g.paths.PIDFile)
	if err != nil {
		return stopResult{}, err
	}
	res := stopResult{found: true, pid: st.PID}
	if !st.Running {
		if st.Exists {
			pidfile.RemoveStale(g.paths.PIDFile)
		}
		if res.pid = g.answeringPID(); res.pid == 0 {
			return stopResult{}, nil
		}
	}
	mode := messages.ShutdownMode_SHUTDOWN_MODE_IF_IDLE
	switch {
	case c.Force:
		mode = messages.ShutdownMode_SHUTDOWN_MODE_FORCE
	case c.Drain:
		mode = messages.ShutdownMode_SHUTDOWN_MODE_DRAIN
	}
	// --timeout bounds the whole stop, the request included.
	deadline := time.Now().Add(c.Timeout)
	ctx, cancel := context.WithDeadline(g.ctx, time.Now().Add(min(maxShutdownAsk, c.Timeout)))
	_, err = call[*messages.ShutdownResponse](g, ctx, &messages.ShutdownRequest{Mode: mode, KeepRunning: c.handover})
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, client.ErrRefused):
		return res, err
	case st.Running && isNotRunning(err):
		// The lock is held but the socket is gone: the PID file names the
		// conductor, and a signal does what the request cannot.
		fmt.Fprintf(g.env.Stderr, "conductor PID %d does not answer at %s; sending it SIGTERM\n", res.pid, g.paths.Socket)
		signalStop(res.pid, c.Force)
	case !c.Force:
		return res, failf(exitFailed, "mzt stop --force", "ask the conductor (PID %d) to stop: %v", res.pid, err)
	default:
		// Unresponsive: a signal does what the request could not.
		signalStop(res.pid, true)
	}
	gone := func() bool { return exited(g.paths.PIDFile, res.pid, st.Running) }
	if waitFor(g.ctx, time.Until(deadline), gone) {
		return res, nil
	}
	if !c.Force {
		return res, failf(exitFailed, "mzt stop --force", "conductor (PID %d) is still stopping after %s", res.pid, c.Timeout)
	}
	if err := syscall.Kill(res.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return res, fmt.Errorf("kill conductor %d: %w", res.pid, err)
	}
	if !waitFor(g.ctx, 5*time.Second, gone) {
		return res, failf(exitFailed, "", "conductor (PID %d) survived SIGKILL", res.pid)
	}
	pidfile.RemoveStale(g.paths.PIDFile)
	res.killed = true
	return res, nil
}

// signalStop asks a conductor to stop by signal: SIGTERM drains; a second,
// different signal (SIGINT: two SIGTERMs may merge into one) interrupts
// running sheets as --force does.
func signalStop(pid int, force bool) {
	syscall.Kill(pid, syscall.SIGTERM)
	if force {
		syscall.Kill(pid, syscall.SIGINT)
	}
}

// exited reports whether the conductor is gone: its lock is free when it was
// found by its lock (it releases it as the very last thing it does), else
// its process is gone.
func exited(pidPath string, pid int, byLock bool) bool {
	if !byLock {
		return !pidfile.Alive(pid)
	}
	st, err := pidfile.Inspect(pidPath)
	return err == nil && !st.Running
}

// waitFor polls cond until it holds, the timeout passes or ctx ends.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RestartCmd is `mzt restart`.
type RestartCmd struct {
	startFlags
	stopFlags
	Interrupt bool `help:"Interrupt running sheets (they run again); by default they keep running and the new conductor adopts them." xor:"mode"`
}

func (c *RestartCmd) Run(g *Globals) error {
	// By default running sheets stay with their supervisor across the restart.
	c.handover = !c.Interrupt && !c.Force && !c.Drain
	c.Force = c.Force || c.Interrupt
	res, err := c.stop(g)
	var re *client.RemoteError
	if errors.Is(err, client.ErrRefused) && errors.As(err, &re) {
		// The conductor's hint names stop; restart takes the same flags.
		return failf(exitFailed, "mzt restart --drain (let running sheets finish) or mzt restart --force (interrupt them)",
			"%s", re.Message)
	}
	if err != nil {
		return err
	}
	if res.killed {
		g.printf("conductor did not stop within %s; killed (PID %d)\n", c.Timeout, res.pid)
	}
	return c.start(g)
}
