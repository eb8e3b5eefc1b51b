package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/mzt-dev/mzt/internal/supervisor"
)

// SuperviseCmd is the supervisor of a conductor's running tries (started by
// the conductor; it outlives the conductor's restarts and crashes).
type SuperviseCmd struct {
	Dir     string `required:"" help:"The home's supervisors folder."`
	Version string `help:"The version of the conductor that started it."`
}

func (c *SuperviseCmd) Run(g *Globals) error {
	// SIGTERM, SIGINT and SIGHUP aimed at the conductor's session or
	// terminal are not for it: its tries end on their own or when a
	// conductor stops them. They are caught and dropped, not ignored: an
	// ignored signal would stay ignored in every try it forks.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM)
	// MZT_SUPERVISOR_CPUPROFILE=FILE profiles the supervisor's whole life (for benchmark work).
	if path := os.Getenv("MZT_SUPERVISOR_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			defer f.Close() // runs after StopCPUProfile has written the profile
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	log := slog.New(slog.NewTextHandler(g.env.Stderr, nil)).With("supervisor", os.Getpid())
	if err := supervisor.Serve(context.Background(), supervisor.Config{Dir: c.Dir, Version: Version, Log: log}); err != nil {
		return failf(exitFailed, "", "supervisor: %v", err)
	}
	return nil
}
