package jobs

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Fleet is what the job manager asks of this conductor's fleet membership
// (Deps.Fleet; nil when it is no member).
type Fleet interface {
	// Allowed is the fence: a sheet of the job may start now. It is false
	// for a fleet job whose claim this member has not confirmed or lost.
	// It must not block.
	Allowed(jobID string) bool
	// FenceReason says why Allowed is false, for the sheet's waiting reason.
	FenceReason(jobID string) string
	// RateLimitSeen shares a rate limit this conductor hit; it must not block.
	RateLimitSeen(instrument string, until time.Time)
}

// FenceChanged tells the job manager that fleet ownership was confirmed:
// the sheets the fence held back ask for their slots again.
type FenceChanged struct{}

// SharedRateLimit is a rate limit another fleet member saw on an account
// this instrument shares: its sheets wait until then, here as there.
type SharedRateLimit struct {
	Instrument string
	Until      time.Time
	Member     string
}

// fenceHeld are slot requests the fence held back, per job.
type fenceHeld map[string][]*slotRequest

// fenced holds back a sheet of a fleet job this member may not run now,
// and tells the job why.
func (a *Actor) fenced(ctx actor.Context, m *slotRequest) bool {
	if a.deps.Fleet == nil || a.deps.Fleet.Allowed(m.jobID) {
		return false
	}
	if a.held == nil {
		a.held = fenceHeld{}
	}
	a.held[m.jobID] = append(a.held[m.jobID], m)
	ctx.Send(m.job, &slotWaiting{num: m.num, reason: a.deps.Fleet.FenceReason(m.jobID)})
	a.log.Info("fleet: sheet held until this member's claim on the job is confirmed", "job", m.jobID, "sheet", m.num)
	return true
}

// onFenceChanged asks again for the held sheets that may now start.
func (a *Actor) onFenceChanged(ctx actor.Context) {
	for id, reqs := range a.held {
		if !a.deps.Fleet.Allowed(id) {
			continue
		}
		delete(a.held, id)
		for _, r := range reqs {
			ctx.Send(ctx.Self(), r)
		}
	}
}

func (a *Actor) onSharedRateLimit(ctx actor.Context, m *SharedRateLimit) {
	until, grew := a.slots.rateLimit(m.Instrument, m.Until)
	if grew {
		if a.slots.rateBy == nil {
			a.slots.rateBy = map[string]string{}
		}
		a.slots.rateBy[m.Instrument] = m.Member
		a.log.Warn("instrument rate limited by another fleet member", "instrument", m.Instrument, "member", m.Member,
			"until", until.Format(time.RFC3339))
	}
	a.broadcast(ctx, &rateLimited{instrument: m.Instrument, until: until, by: a.slots.rateBy[m.Instrument]})
	a.grant(ctx)
}

// shareRateLimit tells the fleet about a limit this conductor hit (the
// window is this conductor's own from now on).
func (a *Actor) shareRateLimit(instrument string, until time.Time) {
	delete(a.slots.rateBy, instrument)
	if a.deps.Fleet != nil {
		a.deps.Fleet.RateLimitSeen(instrument, until)
	}
}

// seenBy names the fleet member whose rate limit holds a sheet.
func seenBy(member string) string {
	if member == "" {
		return ""
	}
	return " (seen by fleet member " + member + ")"
}

// FleetSpend is what the other fleet members' tries reported spending on
// Day: the daily budget counts the whole fleet's spend.
type FleetSpend struct {
	Day       string // 2006-01-02, local time
	OthersUSD float64
}

// others is the other members' spend on now's day.
func (d *dailySpend) others(now time.Time) float64 {
	if dayOf(now) != d.fleetDay {
		return 0
	}
	return d.fleet
}

func (a *Actor) onFleetSpend(ctx actor.Context, m *FleetSpend) {
	a.daily.fleet, a.daily.fleetDay = m.OthersUSD, m.Day
	a.checkDaily(ctx)
}

// fleetBudget is the budget of a fleet job's run here when its earlier
// placements spent prior: what is left of max_cost_usd. 0 keeps the score's
// (no budget, or nothing spent before). Nothing left still lets one try
// start (the fleet's count may lag by one try), which then pauses the job.
func fleetBudget(maxCost, prior float64) float64 {
	if maxCost <= 0 || prior <= 0 {
		return 0
	}
	return max(maxCost-prior, minBudget)
}

// minBudget stands for "nothing left": a budget must be positive.
const minBudget = 1e-6
