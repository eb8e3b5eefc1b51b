package jobs

import (
	"slices"
	"time"

	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/messages"
)

// costEstimate is the expected cost of a whole job: what it has spent plus,
// for every sheet left to run, what a sheet of its stage cost in the score's
// history (p10, p50, p90). Unknown while a stage left has no cost history.
type costEstimate struct {
	at             time.Time
	stats          *correlation.Stats
	ok             bool
	mid, low, high float64
}

// setCostEstimate fills the job's expected cost, refreshed like the ETA.
func (j *jobActor) setCostEstimate(info *messages.JobInfo, stats *correlation.Stats, now time.Time) {
	if now.Sub(j.costEst.at) >= etaRefresh || stats != j.costEst.stats {
		j.costEst = costEstimate{at: now, stats: stats}
		j.costEst.mid, j.costEst.low, j.costEst.high, j.costEst.ok = j.estimateCost(stats)
	}
	if j.costEst.ok {
		info.HasCostEstimate = true
		info.CostEstimateUsd, info.CostEstimateLowUsd, info.CostEstimateHighUsd = j.costEst.mid, j.costEst.low, j.costEst.high
	}
}

func (j *jobActor) estimateCost(stats *correlation.Stats) (mid, low, high float64, ok bool) {
	spent := j.spentUsage()
	mid, low, high = spent.CostUSD, spent.CostUSD, spent.CostUSD
	never := make([]bool, len(j.sheets))
	left := 0
	for _, s := range j.sheets {
		switch s.row.Status {
		case messages.SheetCompleted:
			continue
		case messages.SheetFailed, messages.SheetSkipped, messages.SheetCancelled:
			never[s.row.Num-1] = true
			continue
		}
		if slices.ContainsFunc(s.sh.Deps, func(d int) bool { return never[d-1] }) {
			never[s.row.Num-1] = true
			continue
		}
		st, found := stats.Lookup(correlation.Key{Score: j.historyKey(), Stage: s.row.Stage, Instrument: s.row.Instrument})
		if !found {
			return 0, 0, 0, false
		}
		if !st.HasCost {
			continue // its instrument reports no cost: nothing to add
		}
		// What the sheet already spent is in spent: count only the rest.
		done := 0.0
		if s.row.CostKnown {
			done = s.row.CostUSD
		}
		mid += max(st.CostP50-done, 0)
		low += max(st.CostP10-done, 0)
		high += max(st.CostP90-done, 0)
		left++
	}
	return mid, low, high, left > 0
}
