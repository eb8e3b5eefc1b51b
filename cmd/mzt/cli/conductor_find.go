package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/mzt-dev/mzt/internal/pidfile"
	"github.com/mzt-dev/mzt/messages"
)

// healthTimeout bounds the socket probe of start and stop: a conductor that
// does not answer a health request within it counts as silent.
const healthTimeout = 2 * time.Second

// answeringPID asks the local socket who serves it. It returns 0 when
// nothing answers (no socket, a stale one, a frozen conductor).
func (g *Globals) answeringPID() int {
	ctx, cancel := context.WithTimeout(g.ctx, healthTimeout)
	defer cancel()
	h, err := call[*messages.HealthResponse](g, ctx, &messages.HealthRequest{})
	if err != nil {
		return 0
	}
	return int(h.GetPid())
}

// silentConductor explains a conductor that holds its PID lock but does not
// answer at its socket (the socket was deleted, or the process is frozen).
func (g *Globals) silentConductor(pid int) error {
	return failf(exitFailed, "mzt restart (stop signals a conductor that does not answer)",
		"conductor PID %d runs but does not answer at %s", pid, g.paths.Socket)
}

// staleNote is what start says after taking over a PID file no process held:
// the PID in it either exited or now belongs to some other program.
func staleNote(pid int) string {
	if pidfile.Alive(pid) {
		return fmt.Sprintf("cleaned up stale PID file (PID %d is not a conductor)", pid)
	}
	return fmt.Sprintf("cleaned up stale PID file (PID %d is no longer running)", pid)
}
