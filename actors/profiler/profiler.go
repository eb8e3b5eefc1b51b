// Package profiler will sample every running sheet's process tree (CPU, RSS, I/O, threads) into the store. It holds its place in the supervision tree now; sampling arrives with the profiler issue.
package profiler

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// Actor is the profiler subsystem.
type Actor struct {
	log *slog.Logger
}

// Props builds the profiler actor.
func Props(log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{log: log} })
}

func (a *Actor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.log.Debug("profiler started")
	case *actor.Stopping:
		a.log.Debug("profiler stopping")
	}
}
