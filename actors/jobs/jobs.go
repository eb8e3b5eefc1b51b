// Package jobs is the job manager: admission, the queue and one child actor
// per active job, which drives that job's sheets. Durable state lives in the
// store; this actor rebuilds from it when it starts.
package jobs

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// Deps wire the jobs actor to its siblings.
type Deps struct {
	Config  *config.Config
	Paths   config.Paths
	Store   *actor.PID
	Monitor *actor.PID
	Log     *slog.Logger
}

// Actor is the job manager.
type Actor struct {
	deps     Deps
	cfg      *config.Config
	draining bool
}

// Props builds the job manager.
func Props(deps Deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{deps: deps, cfg: deps.Config} })
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *CountsRequest:
		ctx.Respond(&Counts{Accepting: !a.draining, Draining: a.draining})
	case *Drain:
		a.draining = true
		ctx.Respond(&Drained{})
	case *Reconfigure:
		a.cfg = m.Config
	case *messages.SubmitJobRequest, *messages.JobStatusRequest, *messages.ListJobsRequest, *messages.JobControlRequest:
		ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "", "jobs are not served yet"))
	}
}
