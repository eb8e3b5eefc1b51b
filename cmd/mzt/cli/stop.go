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
}

// StopCmd is `mzt stop`.
type StopCmd struct {
	stopFlags
}

func (c *StopCmd) Run(g *Globals) error {
	stopped, err := c.stop(g)
	if err != nil {
		return err
	}
	if !stopped {
		return failf(exitFailed, "", "conductor is not running")
	}
	g.printf("conductor stopped\n")
	return nil
}

// stop asks the conductor to shut down and waits for its process to exit.
// It reports false when no conductor was running.
func (c *stopFlags) stop(g *Globals) (bool, error) {
	st, err := pidfile.Inspect(g.paths.PIDFile)
	if err != nil {
		return false, err
	}
	if !st.Running {
		if st.Exists {
			pidfile.RemoveStale(g.paths.PIDFile)
		}
		return false, nil
	}
	mode := messages.ShutdownMode_SHUTDOWN_MODE_IF_IDLE
	switch {
	case c.Force:
		mode = messages.ShutdownMode_SHUTDOWN_MODE_FORCE
	case c.Drain:
		mode = messages.ShutdownMode_SHUTDOWN_MODE_DRAIN
	}
	ctx, cancel := context.WithTimeout(g.ctx, 10*time.Second)
	_, err = call[*messages.ShutdownResponse](g, ctx, &messages.ShutdownRequest{Mode: mode})
	cancel()
	switch {
	case errors.Is(err, client.ErrRefused):
		return true, err
	case err != nil && !c.Force:
		return true, fmt.Errorf("ask the conductor (PID %d) to stop: %w", st.PID, err)
	case err != nil:
		// Unresponsive: a signal does what the request could not.
		syscall.Kill(st.PID, syscall.SIGTERM)
	}
	if waitExit(g.ctx, g.paths.PIDFile, c.Timeout) {
		return true, nil
	}
	if !c.Force {
		return true, failf(exitFailed, "mzt stop --force", "conductor (PID %d) is still stopping after %s", st.PID, c.Timeout)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("kill conductor %d: %w", st.PID, err)
	}
	if !waitExit(g.ctx, g.paths.PIDFile, 5*time.Second) {
		return true, failf(exitFailed, "", "conductor (PID %d) survived SIGKILL", st.PID)
	}
	pidfile.RemoveStale(g.paths.PIDFile)
	return true, nil
}

// waitExit waits until nobody holds the PID file (the conductor releases it
// as the very last thing it does).
func waitExit(ctx context.Context, pidPath string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		st, err := pidfile.Inspect(pidPath)
		if err == nil && !st.Running {
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
}

func (c *RestartCmd) Run(g *Globals) error {
	if _, err := c.stop(g); err != nil {
		return err
	}
	return c.start(g)
}
