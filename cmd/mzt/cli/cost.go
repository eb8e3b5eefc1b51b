package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// pauseBudget is the pause reason of a job that reached its budget.
const pauseBudget = "budget"

// parseBudgetRaise reads `--budget +5` (or 5, 2.50, +$5): a positive number
// of US dollars.
func parseBudgetRaise(s string) (float64, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "+"), "$")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) || v > 1e9 {
		return 0, failf(exitUsage, "mzt resume JOB --budget +5",
			"--budget %q: give the US dollars to add, a positive number such as +5", s)
	}
	return v, nil
}

// usd prints a cost: "$0.42", "$0.0042" for fractions of a cent, "?" when
// no try reported one (an unknown cost is not a free one).
func usd(v float64, known bool) string {
	switch {
	case !known:
		return "?"
	case v != 0 && math.Abs(v) < 0.01:
		return fmt.Sprintf("$%.4f", v)
	default:
		return fmt.Sprintf("$%.2f", v)
	}
}

// tokens prints input/output token counts compactly ("12.3k/687"), "?"
// when unknown.
func tokens(in, out int64, known bool) string {
	if !known {
		return "?"
	}
	return tokenCount(in) + "/" + tokenCount(out)
}

func tokenCount(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	case n >= 1_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	default:
		return strconv.FormatInt(n, 10)
	}
}

// jobCost is a job's cost for its one-line views: "cost $0.62", with its
// budget when it has one ("cost $0.62 of $0.50"), "cost ?" when unknown.
func jobCost(j *messages.JobInfo) string {
	s := "cost " + usd(j.GetCostUsd(), j.GetHasCost())
	if j.GetMaxCostUsd() > 0 {
		s += " of " + usd(j.GetMaxCostUsd(), true)
	}
	if j.GetHasTokens() {
		s += " · tokens " + tokens(j.GetInputTokens(), j.GetOutputTokens(), true)
	}
	return s
}

// usageTotal sums what some jobs or sheets reported, for a table's TOTAL row.
type usageTotal struct {
	cost              float64
	costKnown         bool
	in, out           int64
	tokensKnown, some bool
}

func (t *usageTotal) add(cost float64, costKnown bool, in, out int64, tokensKnown bool) {
	t.some = true
	if costKnown {
		t.cost, t.costKnown = t.cost+cost, true
	}
	if tokensKnown {
		t.in, t.out, t.tokensKnown = t.in+in, t.out+out, true
	}
}

// costJSON is a cost for JSON: null when unknown. Rounded to a micro-dollar
// so that sums print as people expect.
func costJSON(v float64, known bool) *float64 {
	if !known {
		return nil
	}
	return ptr(math.Round(v*1e6) / 1e6)
}

func tokensJSON(v int64, known bool) *int64 {
	if !known {
		return nil
	}
	return &v
}

// budgetPaused reports whether a job paused itself at its budget.
func budgetPaused(j *messages.JobInfo) bool {
	return j.State() == messages.JobPaused && j.GetPauseReason() == pauseBudget
}

func costJSONValue(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// dailyBudgetText is " of $20.00 daily budget", or "" without one.
func dailyBudgetText(st *messages.ConductorStatus) string {
	if st.GetDailyBudgetUsd() <= 0 {
		return ""
	}
	return " of " + usd(st.GetDailyBudgetUsd(), true) + " daily budget"
}

// clock prints a time in the local zone, "2026-03-01 14:05", or "-".
func clock(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).Local().Format("2006-01-02 15:04")
}

// costEstimateText is " · ~$1.20 ($0.90-$1.80)": what the whole job is
// expected to cost from its score's history; "" without an estimate.
func costEstimateText(j *messages.JobInfo) string {
	if !j.GetHasCostEstimate() {
		return ""
	}
	s := " · ~" + usd(j.GetCostEstimateUsd(), true)
	lo, hi := usd(j.GetCostEstimateLowUsd(), true), usd(j.GetCostEstimateHighUsd(), true)
	if lo != hi {
		s += " (" + lo + "-" + hi + ")"
	}
	return s
}

// overOwnBudget reports whether a job reached its own budget (not only the
// conductor's daily one).
func overOwnBudget(j *messages.JobInfo) bool {
	return j.GetMaxCostUsd() > 0 && j.GetHasCost() && j.GetCostUsd() >= j.GetMaxCostUsd()
}

// budgetHint says which budget paused a job and how to go on.
func budgetHint(j *messages.JobInfo) string {
	if overOwnBudget(j) {
		return "paused at its budget: raise it with " + budgetTry(j)
	}
	return "paused at the conductor's daily budget: " + budgetTry(j)
}

func budgetTry(j *messages.JobInfo) string {
	if overOwnBudget(j) {
		return "mzt resume " + j.GetId() + " --budget +5"
	}
	return "raise [budget] daily_usd in conductor.toml (or wait for tomorrow), then mzt resume " + j.GetId()
}
