// Package correlation will turn finished attempts and their samples into statistics per stage and instrument, ETAs and anomaly flags. It holds its place in the supervision tree now; the analysis arrives with the profiler issue.
package correlation

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// Actor is the correlation subsystem.
type Actor struct {
	log *slog.Logger
}

// Props builds the correlation actor.
func Props(log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{log: log} })
}

func (a *Actor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		a.log.Debug("correlation started")
	case *actor.Stopping:
		a.log.Debug("correlation stopping")
	}
}
