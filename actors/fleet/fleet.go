// Package fleet is the actor that runs this conductor's fleet membership
// (internal/fleet) beside the other subsystems: it starts the member once
// the job manager and the monitor run, and stops it with the conductor.
package fleet

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/fleet"
	"github.com/mzt-dev/mzt/messages"
)

// Deps are what the fleet actor works with.
type Deps struct {
	Member  *fleet.Member
	Config  *config.Config
	Paths   config.Paths
	Jobs    *actor.PID
	Monitor *actor.PID
	Log     *slog.Logger
}

// Props builds the fleet actor.
func Props(d Deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &fleetActor{deps: d} })
}

type fleetActor struct {
	deps    Deps
	started bool
	sub     *eventstream.Subscription
}

func (a *fleetActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		if a.started {
			return
		}
		a.started = true
		a.deps.Member.Start(&local{system: ctx.ActorSystem(), jobs: a.deps.Jobs, monitor: a.deps.Monitor, cfg: a.deps.Config,
			paths: a.deps.Paths, timeout: 10 * time.Second, accts: newAccounts(a.deps.Paths.Instruments)})
		// A job that ends here frees a slot: look for queued work now
		// rather than at the next tick.
		m := a.deps.Member
		a.sub = ctx.ActorSystem().EventStream.Subscribe(func(evt any) {
			if e, ok := evt.(*messages.Event); ok && e.GetKind() == string(messages.EventJobStatus) &&
				messages.JobState(e.GetStatus()).Terminal() {
				m.Kick()
			}
		})
	case *actor.Stopping:
		if a.sub != nil {
			ctx.ActorSystem().EventStream.Unsubscribe(a.sub)
		}
		// The member's loops finish their etcd calls (each bounded) off
		// this mailbox.
		m, log := a.deps.Member, a.deps.Log
		go func() {
			defer func() {
				if r := recover(); r != nil {
					log.Error("stopping the fleet member failed", "panic", fmt.Sprint(r))
				}
			}()
			m.Stop()
		}()
	}
}

// AccountOf maps instruments to accounts from the profiles in dir, for
// fleet.Options.Account.
func AccountOf(instrumentsDir string) func(string) string { return newAccounts(instrumentsDir).account }
