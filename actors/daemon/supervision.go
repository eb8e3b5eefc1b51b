package daemon

import (
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Backoff is a capped exponential delay with jitter: base·2^(n-1), at most
// Max, then scaled by a random factor in [0.5, 1.0) so that subsystems failing
// together do not restart in lockstep. protoactor's own "exponential" strategy
// is linear and never gives up, hence this one.
type Backoff struct {
	Base, Max time.Duration
}

// Delay is the wait before the nth restart (n >= 1); rnd returns [0,1).
func (b Backoff) Delay(n int, rnd func() float64) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return time.Duration(float64(d) * (0.5 + rnd()/2))
}

// restartStrategy supervises the daemon's children: a panicking subsystem is
// restarted after a Backoff delay; one that fails MaxRestarts times within
// Window is stopped for good; a critical child (the store, whose loss makes
// every promise about state void) is stopped at once, and the daemon shuts
// down cleanly when it sees it terminate.
type restartStrategy struct {
	backoff     Backoff
	maxRestarts int
	window      time.Duration
	critical    map[string]bool
	log         *slog.Logger
}

var _ actor.SupervisorStrategy = (*restartStrategy)(nil)

func childName(pid *actor.PID) string {
	id := pid.GetId()
	return id[strings.LastIndexByte(id, '/')+1:]
}

func (s *restartStrategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID,
	rs *actor.RestartStatistics, reason any, _ any) {
	name := childName(child)
	if s.critical[name] {
		s.log.Error("critical subsystem failed; the conductor will shut down", "subsystem", name, "reason", reason)
		sup.StopChildren(child)
		return
	}
	if rs.NumberOfFailures(s.window) == 0 {
		rs.Reset() // a long quiet spell earns a fresh, short backoff
	}
	if rs.NumberOfFailures(s.window) >= s.maxRestarts {
		s.log.Error("subsystem keeps failing; stopped", "subsystem", name, "failures", rs.FailureCount(), "reason", reason)
		sup.StopChildren(child)
		return
	}
	rs.Fail()
	delay := s.backoff.Delay(rs.FailureCount(), rand.Float64)
	s.log.Warn("subsystem panicked; restarting", "subsystem", name, "reason", reason,
		"attempt", rs.FailureCount(), "delay", delay.String())
	time.AfterFunc(delay, func() { sup.RestartChildren(child) })
}
