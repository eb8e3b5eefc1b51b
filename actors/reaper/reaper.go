// Package reaper owns the conductor's dead children: it reaps zombies re-parented to the conductor and, with the process-safety issue, kills what finished sheets left behind.
package reaper

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// Actor is the reaper subsystem.
type Actor struct {
	log *slog.Logger
}

// Props builds the reaper actor.
func Props(log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{log: log} })
}

func (a *Actor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.log.Debug("reaper started")
	case *actor.Stopping:
		a.log.Debug("reaper stopping")
	}
}
