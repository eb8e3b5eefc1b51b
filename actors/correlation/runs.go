package correlation

import (
	"sort"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// runsOf adds to stage statistics what needs the tries grouped by run and
// sheet: how many runs ran each stage and how many of them completed it, and
// what a sheet costs (its tries together). It also returns one summary per
// score over its runs.
func runsOf(tries []store.FinishedTry, byKey map[Key]*StageStats) []*messages.ScoreSummary {
	type sheetKey struct {
		run string
		num int
	}
	type sheetAcc struct {
		key       Key
		completed bool
		cost      float64
		costKnown bool
	}
	type runAcc struct {
		score       string
		start, end  time.Time
		cost        float64
		costKnown   bool
		incomplete  bool
		tries, done int
	}
	sheets := map[sheetKey]*sheetAcc{}
	runs := map[string]*runAcc{}
	for _, t := range tries {
		k := Key{keyScore(t), t.Stage, t.Instrument}
		sk := sheetKey{t.RunKey, t.Num}
		s := sheets[sk]
		if s == nil {
			s = &sheetAcc{key: k}
			sheets[sk] = s
		}
		s.completed = s.completed || t.Outcome.Succeeded()
		if t.CostKnown {
			s.cost, s.costKnown = s.cost+t.CostUSD, true
		}
		r := runs[t.RunKey]
		if r == nil {
			r = &runAcc{score: k.Score}
			runs[t.RunKey] = r
		}
		start := t.FinishedAt.Add(-t.Duration)
		if r.start.IsZero() || start.Before(r.start) {
			r.start = start
		}
		if t.FinishedAt.After(r.end) {
			r.end = t.FinishedAt
		}
		if t.CostKnown {
			r.cost, r.costKnown = r.cost+t.CostUSD, true
		}
		r.tries++
		if t.Outcome.Succeeded() {
			r.done++
		}
	}
	// Per stage: runs that ran it, runs where all its sheets completed, and
	// the cost of each sheet.
	type stageRun struct {
		key Key
		run string
	}
	stageRuns := map[stageRun]bool{} // value: every sheet completed
	costs := map[Key][]float64{}
	for sk, s := range sheets {
		sr := stageRun{s.key, sk.run}
		ok, seen := stageRuns[sr]
		stageRuns[sr] = (ok || !seen) && s.completed
		if !s.completed {
			runs[sk.run].incomplete = true
		}
		if s.costKnown {
			costs[s.key] = append(costs[s.key], s.cost)
		}
	}
	for sr, ok := range stageRuns {
		st := byKey[sr.key]
		if st == nil {
			continue
		}
		st.JobRuns++
		if ok {
			st.RunsCompleted++
		}
	}
	for k, c := range costs {
		if st := byKey[k]; st != nil {
			sort.Float64s(c)
			st.HasCost = true
			st.CostP10, st.CostP50, st.CostP90 = pctF(c, 10), pctF(c, 50), pctF(c, 90)
		}
	}
	// Per score.
	type scoreAcc struct {
		sum       *messages.ScoreSummary
		durs      []time.Duration
		costs     []float64
		tries, ok int
	}
	scores := map[string]*scoreAcc{}
	for _, r := range runs {
		a := scores[r.score]
		if a == nil {
			a = &scoreAcc{sum: &messages.ScoreSummary{Score: r.score}}
			scores[r.score] = a
		}
		a.sum.Runs++
		if !r.incomplete {
			a.sum.CompletedRuns++
		}
		a.durs = append(a.durs, r.end.Sub(r.start))
		if r.costKnown {
			a.costs = append(a.costs, r.cost)
		}
		a.tries += r.tries
		a.ok += r.done
	}
	out := make([]*messages.ScoreSummary, 0, len(scores))
	for _, a := range scores {
		sort.Slice(a.durs, func(i, j int) bool { return a.durs[i] < a.durs[j] })
		sort.Float64s(a.costs)
		s := a.sum
		s.Tries = int64(a.tries)
		if a.tries > 0 {
			s.TrySuccessRate = float64(a.ok) / float64(a.tries)
		}
		s.DurationP50Seconds, s.DurationP90Seconds = pct(a.durs, 50).Seconds(), pct(a.durs, 90).Seconds()
		if len(a.costs) > 0 {
			s.HasCost, s.CostP50Usd, s.CostP90Usd = true, pctF(a.costs, 50), pctF(a.costs, 90)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Score < out[j].Score })
	return out
}

func keyScore(t store.FinishedTry) string {
	if t.ScoreKey != "" {
		return t.ScoreKey
	}
	return t.JobID
}
