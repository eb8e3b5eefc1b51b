package correlation

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// Two job ids of one score share its history; runs and tries are counted
// apart, a sheet's cost is its tries together, a run's cost its sheets'.
func TestComputeRunsAndCost(t *testing.T) {
	t.Parallel()
	at := time.Unix(1_800_000_000, 0)
	try := func(job, run string, num int, outcome messages.AttemptOutcome, cost float64, known bool) store.FinishedTry {
		return store.FinishedTry{JobID: job, ScoreKey: "review@abc", RunKey: run, Num: num, Stage: "draft", Instrument: "claude",
			Outcome: outcome, Duration: time.Second, FinishedAt: at, CostUSD: cost, CostKnown: known}
	}
	tries := []store.FinishedTry{
		// Run a.1: sheet 1 fails once ($0.10) then completes ($0.20); sheet 2 completes ($0.30).
		try("a", "a.1", 1, messages.OutcomeFailed, 0.10, true),
		try("a", "a.1", 1, messages.OutcomeCompleted, 0.20, true),
		try("a", "a.1", 2, messages.OutcomeCompleted, 0.30, true),
		// Run b.1 (another job id, same score): sheet 1 fails for good, sheet 2 reports no cost.
		try("b", "b.1", 1, messages.OutcomeFailed, 0.50, true),
		try("b", "b.1", 2, messages.OutcomeCompleted, 0, false),
	}
	stats := Compute(tries, at)
	st, ok := stats.Lookup(Key{"review@abc", "draft", "claude"})
	if !ok {
		t.Fatalf("no stats for the score's identity: %v", stats.ByKey)
	}
	if st.Runs != 5 || st.JobRuns != 2 || st.RunsCompleted != 1 {
		t.Errorf("tries %d, runs %d, runs completed %d; want 5, 2, 1", st.Runs, st.JobRuns, st.RunsCompleted)
	}
	// Sheet costs with a cost: 0.30 (a.1/1), 0.30 (a.1/2), 0.50 (b.1/1).
	if !st.HasCost || !near(st.CostP50, 0.30) || !near(st.CostP90, 0.50) {
		t.Errorf("sheet cost p50 %v p90 %v (known %v); want 0.30, 0.50", st.CostP50, st.CostP90, st.HasCost)
	}
	if len(stats.Scores) != 1 {
		t.Fatalf("scores = %v, want one", stats.Scores)
	}
	s := stats.Scores[0]
	if s.GetRuns() != 2 || s.GetCompletedRuns() != 1 || s.GetTries() != 5 || !near(s.GetTrySuccessRate(), 0.6) {
		t.Errorf("score summary %+v", s)
	}
	if !s.GetHasCost() || !near(s.GetCostP50Usd(), 0.5) || !near(s.GetCostP90Usd(), 0.6) {
		t.Errorf("run cost p50 %v p90 %v; want 0.5 (b.1), 0.6 (a.1)", s.GetCostP50Usd(), s.GetCostP90Usd())
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
