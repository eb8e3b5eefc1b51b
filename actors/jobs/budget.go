package jobs

import (
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// PauseBudget is the pause reason of a job that reached its budget.
const PauseBudget = "budget"

// overBudget reports whether spending has reached the limit. An unknown
// cost never reaches it: there is nothing to count.
func overBudget(limit float64, spent store.Usage) bool {
	return limit > 0 && spent.CostKnown && spent.CostUSD >= limit
}

// raisedBudget is a job's budget after `resume --budget +add`: a job with a
// budget gets add more; one without gets add beyond what it has spent.
func raisedBudget(limit, add float64, spent store.Usage) float64 {
	if limit == 0 && spent.CostKnown {
		return spent.CostUSD + add
	}
	return limit + add
}

// usdText prints a cost, "?" when unknown.
func usdText(u store.Usage) string {
	if !u.CostKnown {
		return "?"
	}
	return fmt.Sprintf("$%.2f", u.CostUSD)
}

// spentUsage is what the job's tries reported so far, summed once from the
// rows and kept up to date by addUsage.
func (j *jobActor) spentUsage() store.Usage {
	if j.spent == nil {
		u := store.SheetsUsage(j.rows())
		j.spent = &u
	}
	return *j.spent
}

// addUsage counts what one try reported, on its sheet and on the job, and
// publishes it as a usage event (what the metrics count).
func (j *jobActor) addUsage(ctx actor.Context, s *sheetState, u sheetrun.Usage) {
	if u.HasCost || u.HasTokens {
		ctx.ActorSystem().EventStream.Publish(usageEvent(j.job.JobID, &s.row, u))
	}
	if u.HasCost && u.CostUSD > 0 {
		ctx.Send(j.mgr, &spent{usd: u.CostUSD, at: time.Now()})
	}
	j.countUsage(s, u)
}

// usageEvent describes what one try of a sheet reported.
func usageEvent(jobID string, row *store.SheetRow, u sheetrun.Usage) *messages.Event {
	cost := "cost unknown"
	if u.HasCost {
		cost = fmt.Sprintf("cost $%.4f", u.CostUSD)
	}
	toks := "tokens unknown"
	if u.HasTokens {
		toks = fmt.Sprintf("tokens %d in / %d out", u.InputTokens, u.OutputTokens)
	}
	model := row.Model
	if model == "" {
		model = "default"
	}
	return &messages.Event{Kind: string(messages.EventUsage), JobId: jobID, Sheet: int64(row.Num),
		Attempt: int64(row.Tries), Stage: row.Stage, Detail: fmt.Sprintf("%s (%s): %s, %s", row.Instrument, model, cost, toks),
		Instrument: row.Instrument, Model: model, CostUsd: u.CostUSD, HasCost: u.HasCost,
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, HasTokens: u.HasTokens}
}

// countUsage adds one try's usage to its sheet and to the job's total.
func (j *jobActor) countUsage(s *sheetState, u sheetrun.Usage) {
	before := s.row
	if u.HasCost {
		s.row.CostUSD += u.CostUSD
		s.row.CostKnown = true
	}
	if u.HasTokens {
		s.row.InputTokens += u.InputTokens
		s.row.OutputTokens += u.OutputTokens
		s.row.TokensKnown = true
	}
	if j.spent == nil {
		j.spentUsage() // sums the rows, this try included
		return
	}
	var was, now store.Usage
	was.Add(&before)
	now.Add(&s.row)
	j.spent.CostUSD += now.CostUSD - was.CostUSD
	j.spent.CostKnown = j.spent.CostKnown || now.CostKnown
	j.spent.InputTokens += now.InputTokens - was.InputTokens
	j.spent.OutputTokens += now.OutputTokens - was.OutputTokens
	j.spent.TokensKnown = j.spent.TokensKnown || now.TokensKnown
}

// budget is the job's budget in USD (0: none). A run starts with its
// score's max_cost_usd; resumes raise it.
func (j *jobActor) budget() float64 {
	if j.job.BudgetUSD == 0 {
		j.job.BudgetUSD = j.sc.MaxCostUSD
	}
	return j.job.BudgetUSD
}

// checkBudget pauses the job once its spending reaches its budget while work
// is left: no new try starts, running tries finish. Costs are counted as the
// tries report them, i.e. between tries for instruments that report at the end.
func (j *jobActor) checkBudget(ctx actor.Context) {
	if j.finished || j.cancelling || j.job.UserPaused || !overBudget(j.budget(), j.spentUsage()) {
		return
	}
	j.pauseForBudget(ctx, fmt.Sprintf("spent %s of its $%.2f budget", usdText(j.spentUsage()), j.budget()))
}

// pauseForBudget pauses the job (reason budget) when it has work left to
// start; running tries finish.
func (j *jobActor) pauseForBudget(ctx actor.Context, detail string) {
	if j.finished || j.cancelling || j.job.UserPaused {
		return
	}
	// A job whose slot request was refused has a sheet marked requested but
	// still pending: either way, work is left to start.
	c := j.idx.counts
	if c[messages.SheetPending]+c[messages.SheetWaiting] == 0 {
		return // nothing left to start: let the job end as it will
	}
	j.job.UserPaused, j.job.PauseReason = true, PauseBudget
	ctx.Send(j.mgr, &slotCancel{jobID: j.job.JobID})
	j.clearRequests()
	j.setJobStatus()
	j.log.Info("job paused at a budget", "detail", detail)
	ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: string(messages.EventBudget), JobId: j.job.JobID,
		Status: string(messages.JobPaused), Detail: detail})
	j.persist(ctx, nil)
	j.publish(ctx)
}

// resumeBudget applies `resume --budget +add` and refuses a resume that
// would pause again at once because the job is still at its budget.
func (j *jobActor) resumeBudget(ctx actor.Context, add float64) bool {
	if add < 0 || math.IsNaN(add) || math.IsInf(add, 0) {
		ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "",
			"a budget can only be raised, not by %v", add))
		return false
	}
	spent, limit := j.spentUsage(), j.budget()
	if add > 0 {
		limit = raisedBudget(limit, add, spent)
	}
	if overBudget(limit, spent) {
		ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_STATE,
			fmt.Sprintf("mzt resume %s --budget +5", j.job.JobID),
			"job %s has spent %s of its $%.2f budget", j.job.JobID, usdText(spent), limit))
		return false
	}
	j.job.BudgetUSD = limit
	return true
}

// setAttemptUsage records on the try's row what it reported.
func setAttemptUsage(att *store.AttemptRow, u sheetrun.Usage) {
	att.CostUSD, att.InputTokens, att.OutputTokens = u.CostUSD, u.InputTokens, u.OutputTokens
	if u.HasCost {
		att.UsageKnown |= store.UsageCost
	}
	if u.HasTokens {
		att.UsageKnown |= store.UsageTokens
	}
}

// initRun gives a starting run's row its budget and its score's identity.
func (j *jobActor) initRun() {
	j.budget()
	j.historyKey()
}

// historyKey is the score's identity: the runs whose history the job's ETAs
// and estimates use, whatever their job ids.
func (j *jobActor) historyKey() string {
	if j.job.ScoreKey == "" {
		j.job.ScoreKey = j.sc.Identity()
	}
	return j.job.ScoreKey
}
