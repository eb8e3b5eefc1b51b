package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mzt-dev/mzt/client"
)

// defaultReconnect is how long a follower waits for a conductor that went
// away before it gives up.
const defaultReconnect = 60 * time.Second

// reconnector runs a follower's operation again when the conductor goes
// away (a restart, a kill and a start): it says so once on stderr, waits
// for the conductor to answer with a growing pause, and gives up past its
// bound. A bound of 0 gives up at once with the error as it came.
type reconnector struct {
	bound  time.Duration
	stderr io.Writer
	probe  func(context.Context) error // succeeds once the conductor answers
	sleep  func(context.Context, time.Duration) error
	now    func() time.Time
	// reached is set once the operation got an answer: a conductor that
	// was never there is an error at once, not a wait.
	reached bool
}

// markReached records that the conductor answered the operation.
func (r *reconnector) markReached() { r.reached = true }

const (
	reconnectFirstPause = 100 * time.Millisecond
	reconnectMaxPause   = 2 * time.Second
)

func (g *Globals) reconnector(bound time.Duration) *reconnector {
	return &reconnector{bound: bound, stderr: g.env.Stderr, probe: func(context.Context) error {
		conn, err := g.dial()
		if err != nil {
			return err
		}
		return conn.Close()
	}}
}

// lostConductor reports whether err means the conductor could not be
// reached or the connection to it broke.
func lostConductor(err error) bool {
	return errors.Is(err, client.ErrConnectionLost) || errors.Is(err, client.ErrNotRunning)
}

// run calls op until it returns nil or an error other than a lost
// conductor. A loss after the conductor answered once starts a wait of at most the bound for the
// conductor to answer again; op is then called once more and must resume
// where it left off.
func (r *reconnector) run(ctx context.Context, op func() error) error {
	sleep, now := r.sleep, r.now
	if sleep == nil {
		sleep = sleepCtx
	}
	if now == nil {
		now = time.Now
	}
	for {
		err := op()
		if err == nil || !lostConductor(err) || ctx.Err() != nil || r.bound <= 0 || !r.reached {
			return err
		}
		fmt.Fprintln(r.stderr, "conductor restarting… waiting up to "+boundText(r.bound)+" for it to come back")
		deadline := now().Add(r.bound)
		pause := reconnectFirstPause
		for {
			left := deadline.Sub(now())
			if left <= 0 {
				return failf(exitFailed, "mzt start", "the conductor did not come back within %s", boundText(r.bound))
			}
			if serr := sleep(ctx, min(pause, left)); serr != nil {
				return err
			}
			pause = min(2*pause, reconnectMaxPause)
			if perr := r.probe(ctx); perr == nil {
				break
			} else if !lostConductor(perr) {
				return perr
			}
		}
		fmt.Fprintln(r.stderr, "conductor is back; resuming")
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// boundText prints whole seconds as "60s" rather than "1m0s".
func boundText(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}
