package jobs

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/internal/mailbox"
)

// grant hands out sheet slots and wakes itself when a rate-limit window or
// a start gap ends.
func (a *Actor) grant(ctx actor.Context) {
	grants, wakeAt := a.slots.grant(time.Now())
	for _, g := range grants {
		ctx.Send(g.job, &slotGranted{num: g.num})
	}
	for _, n := range a.slots.reasons(time.Now()) {
		ctx.Send(n.grant.job, &slotWaiting{num: n.grant.num, reason: n.reason})
	}
	if !wakeAt.IsZero() {
		a.timer.Stop()
		a.timer = mailbox.After(ctx.ActorSystem().Root, ctx.Self(), max(time.Until(wakeAt), time.Millisecond), &tick{})
	}
}

func (a *Actor) onSlotRelease(ctx actor.Context, m *slotRelease) {
	delete(a.running, slotKey{m.jobID, m.num})
	a.slots.release(m.jobID, m.num)
	a.grant(ctx)
	a.checkDrained(ctx)
}

func (a *Actor) onRateLimitHit(ctx actor.Context, m *rateLimitHit) {
	until, grew := a.slots.rateLimit(m.instrument, m.until)
	if grew {
		a.log.Warn("instrument rate limited", "instrument", m.instrument, "until", until.Format(time.RFC3339))
		a.shareRateLimit(m.instrument, until)
	}
	a.broadcast(ctx, &rateLimited{instrument: m.instrument, until: until})
}

func (a *Actor) onPressure(ctx actor.Context, m *monitor.PressureChanged) {
	a.slots.pressure, a.pressNote = m.Level, m.Note
	if m.Level == monitor.Critical {
		// Stop the culprit; it is requeued without using an attempt.
		a.preemptCulprit(ctx, m.Usage)
	}
	a.grant(ctx)
}
