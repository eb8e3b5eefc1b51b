package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// The conductor's daily budget ([budget] daily_usd) bounds what every try of
// every job together may report spending in one local calendar day. The job
// manager keeps the day's total: job actors tell it each try's cost as it is
// reported, and at the start it reads what the day's finished tries cost.
type (
	// spent is one try's reported cost, from a job actor.
	spent struct {
		usd float64
		at  time.Time
	}
	// spentLoaded is what state.db says today's tries cost.
	spentLoaded struct {
		day string
		usd float64
	}
	// budgetReached tells a job to start nothing new and pause (reason budget).
	budgetReached struct{ detail string }
)

// dailySpend is the spend of one local day.
type dailySpend struct {
	day string // 2006-01-02, local time
	usd float64
	// fleet is what the other fleet members spent on fleetDay (fleet.go).
	fleet    float64
	fleetDay string
	// Until state.db has answered, questions about the day's spend and slot
	// requests under a daily budget wait (a restart must not forget what
	// today already cost).
	loaded    bool
	askers    []*actor.PID
	heldSlots []*slotRequest
}

func dayOf(t time.Time) string { return t.Local().Format(time.DateOnly) }

// add counts a cost; a new day starts from zero.
func (d *dailySpend) add(usd float64, at time.Time) {
	if day := dayOf(at); day != d.day {
		d.day, d.usd = day, 0
	}
	d.usd += usd
}

// today is what was spent on now's day, here and by the other fleet members.
func (d *dailySpend) today(now time.Time) float64 {
	return d.own(now) + d.others(now)
}

// own is what this conductor's tries spent on now's day.
func (d *dailySpend) own(now time.Time) float64 {
	if dayOf(now) != d.day {
		return 0
	}
	return d.usd
}

// dailyReached reports whether the day's spend has reached the limit (0: none).
func dailyReached(limit, spentToday float64) bool { return limit > 0 && spentToday >= limit }

// SpendToday is what the conductor's tries reported spending today, and the
// daily budget (0: none).
// LocalUSD is this conductor's part of USD (the rest: other fleet members).
type SpendToday struct{ USD, DailyUSD, LocalUSD float64 }

// SpendTodayRequest asks the job manager for SpendToday.
type SpendTodayRequest struct{}

func (a *Actor) spendToday() *SpendToday {
	now := time.Now()
	return &SpendToday{USD: a.daily.today(now), DailyUSD: a.cfg.Budget.DailyUSD, LocalUSD: a.daily.own(now)}
}

// askSpendToday answers now, or once today's spend is read.
func (a *Actor) askSpendToday(ctx actor.Context) {
	if a.daily.loaded || ctx.Sender() == nil {
		ctx.Respond(a.spendToday())
		return
	}
	a.daily.askers = append(a.daily.askers, ctx.Sender())
}

// spendReady marks today's spend as read (or given up on) and lets what
// waited for it go on.
func (a *Actor) spendReady(ctx actor.Context) {
	a.daily.loaded = true
	for _, p := range a.daily.askers {
		ctx.Send(p, a.spendToday())
	}
	for _, r := range a.daily.heldSlots {
		ctx.Send(ctx.Self(), r)
	}
	a.daily.askers, a.daily.heldSlots = nil, nil
}

// loadSpent reads today's spend from state.db, off the actor.
func (a *Actor) loadSpent(ctx actor.Context) {
	now := time.Now()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local)
	f := ctx.RequestFuture(a.deps.Store, &store.Query{Fn: func(qctx context.Context, db *store.DB) (any, error) {
		return db.SpentSince(qctx, midnight)
	}}, 30*time.Second)
	ctx.ReenterAfter(f, func(res any, err error) {
		qr, _ := res.(*store.QueryResult)
		if err == nil && qr.Err != nil {
			err = qr.Err
		}
		if err != nil {
			a.log.Warn("could not read today's spend; the daily budget counts from now", "error", err)
			a.spendReady(ctx)
			return
		}
		a.onSpentLoaded(ctx, &spentLoaded{day: dayOf(now), usd: qr.Value.(float64)})
	})
}

func (a *Actor) onSpentLoaded(ctx actor.Context, m *spentLoaded) {
	if a.daily.day != m.day {
		a.daily.day, a.daily.usd = m.day, 0
	}
	// Tries reported while the query ran may be in both: keep the larger.
	a.daily.usd = max(a.daily.usd, m.usd)
	a.spendReady(ctx)
	a.checkDaily(ctx)
}

func (a *Actor) onSpent(ctx actor.Context, m *spent) {
	a.daily.add(m.usd, m.at)
	a.checkDaily(ctx)
}

// checkDaily pauses every job once the day's budget is spent.
func (a *Actor) checkDaily(ctx actor.Context) {
	if !dailyReached(a.cfg.Budget.DailyUSD, a.daily.today(time.Now())) {
		return
	}
	a.broadcast(ctx, &budgetReached{detail: a.dailyDetail()})
}

func (a *Actor) dailyDetail() string {
	who := "the conductor"
	if a.daily.others(time.Now()) > 0 {
		who = "the fleet"
	}
	return fmt.Sprintf("%s spent $%.2f of its $%.2f daily budget", who, a.daily.today(time.Now()), a.cfg.Budget.DailyUSD)
}

// dailyBlocks refuses a slot while the day's budget is spent: the job is
// told to pause instead.
func (a *Actor) dailyBlocks(ctx actor.Context, r *slotRequest) bool {
	if !a.daily.loaded && a.cfg.Budget.DailyUSD > 0 {
		a.daily.heldSlots = append(a.daily.heldSlots, r)
		return true
	}
	if !dailyReached(a.cfg.Budget.DailyUSD, a.daily.today(time.Now())) {
		return false
	}
	ctx.Send(r.job, &budgetReached{detail: a.dailyDetail()})
	return true
}

// refuseResumeAtDaily answers a resume while the day's budget is spent.
func (a *Actor) refuseResumeAtDaily(ctx actor.Context, m *messages.JobControlRequest) bool {
	if m.GetAction() != messages.JobAction_JOB_ACTION_RESUME || !dailyReached(a.cfg.Budget.DailyUSD, a.daily.today(time.Now())) {
		return false
	}
	ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED,
		"raise [budget] daily_usd in conductor.toml and reload it (kill -HUP the conductor), or wait for tomorrow",
		"%s", a.dailyDetail()))
	return true
}

// dropHeld forgets the held slot requests of a job that cancelled its own.
func (d *dailySpend) dropHeld(jobID string) {
	kept := d.heldSlots[:0]
	for _, r := range d.heldSlots {
		if r.jobID != jobID {
			kept = append(kept, r)
		}
	}
	d.heldSlots = kept
}
