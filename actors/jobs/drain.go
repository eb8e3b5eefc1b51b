package jobs

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/mailbox"
)

func (a *Actor) drain(ctx actor.Context, m *Drain) {
	a.draining = true
	a.drainTo = ctx.Sender()
	a.slots.close()
	a.broadcast(ctx, &halt{})
	if m.Force {
		a.broadcast(ctx, &interrupt{reason: "forced stop"})
	} else if m.Timeout > 0 && a.drainTimer == nil {
		a.drainTimer = mailbox.After(ctx.ActorSystem().Root, ctx.Self(), m.Timeout, &drainDeadline{})
	}
	a.checkDrained(ctx)
}

func (a *Actor) checkDrained(ctx actor.Context) {
	if !a.draining || a.drainTo == nil {
		return
	}
	interruptedAll := true
	for _, e := range a.jobs {
		if e.running > 0 {
			interruptedAll = false
		}
	}
	if interruptedAll && len(a.slots.held) == 0 {
		ctx.Send(a.drainTo, &Drained{})
		a.drainTo = nil
	}
}
