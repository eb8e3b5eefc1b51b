package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/supervisor"
)

// ownSupervisor is the supervisor this conductor started for its tries.
type ownSupervisor struct {
	client  supervisor.Client
	pid     int
	release func() // ends the attachment that keeps it alive while idle
}

func (s *ownSupervisor) clientOrNil() *supervisor.Client {
	if s == nil {
		return nil
	}
	c := s.client
	return &c
}

// supervisorsDir holds the sockets of the home's supervisors.
func supervisorsDir(p config.Paths) string { return filepath.Join(p.Home, "supervisors") }

// startSupervisor starts this conductor's supervisor and attaches to it
// (the attachment ends with this process, whichever way it ends). Without
// one, tries run as children of the conductor and die with a restart.
func startSupervisor(opts Options, gen uint64, log *slog.Logger) *ownSupervisor {
	if opts.SupervisorExe == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, pid, err := supervisor.Spawn(ctx, opts.SupervisorExe, supervisorsDir(opts.Paths), opts.Version,
		filepath.Join(opts.Paths.Home, "supervisor.log"))
	if err != nil {
		log.Warn("cannot start a supervisor: running sheets will not survive a restart of the conductor", "err", err)
		return nil
	}
	c.Gen = gen
	release, err := c.Attach(ctx)
	if err != nil {
		log.Warn("cannot attach to the supervisor: running sheets will not survive a restart of the conductor", "err", err)
		return nil
	}
	log.Info("supervisor started", "pid", pid, "socket", c.Path, "protocol", supervisor.ProtocolVersion)
	return &ownSupervisor{client: c, pid: pid, release: release}
}

// beginHandover stops this conductor at once, leaving every try its
// supervisor holds running for the next conductor to adopt (mzt restart):
// nothing is drained or interrupted; the store is closed last as on any stop,
// and what was in flight is what crash recovery is made for. Without a
// supervisor, running sheets would die with the conductor: it stops as
// --force does (they run again at the next start).
func (d *daemonActor) beginHandover(ctx actor.Context) {
	if d.sup == nil {
		d.beginShutdown(ctx, "mzt restart (no supervisor: running sheets interrupted)", true, 0)
		return
	}
	if d.shutdown {
		return
	}
	d.shutdown, d.stopReason = true, "mzt restart: running sheets stay with their supervisor"
	d.log.Info("handing over: running sheets stay with their supervisor for the next conductor", "supervisor", d.sup.pid)
	close(d.handover)
	if d.tracker != nil {
		d.tracker.HandOver()
	}
	d.stopChildrenInOrder(ctx)
}

// handedOver reports whether this conductor left its tries running.
func handedOver(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
