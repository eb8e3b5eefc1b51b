package daemon

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

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
func startSupervisor(opts Options, log *slog.Logger) *ownSupervisor {
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
	release, err := c.Attach(ctx)
	if err != nil {
		log.Warn("cannot attach to the supervisor: running sheets will not survive a restart of the conductor", "err", err)
		return nil
	}
	log.Info("supervisor started", "pid", pid, "socket", c.Path, "protocol", supervisor.ProtocolVersion)
	return &ownSupervisor{client: c, pid: pid, release: release}
}
