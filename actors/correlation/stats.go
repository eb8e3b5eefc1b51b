package correlation

import (
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// Key names what statistics are kept per: a score (its identity: name and
// stage hash, so that every job id running it shares history), a stage and
// the instrument that ran it.
type Key struct{ Score, Stage, Instrument string }

// StageStats are the statistics of one Key.
type StageStats struct {
	Key
	Runs, Completed, Failed, Stalls int
	// Durations of completed tries (of every finished try when none completed).
	P10, P50, P90 time.Duration
	PeakRSSP90MB  float64
	CPUSecondsP50 float64
	Failures      []*messages.FailureCount // most common first
	// JobRuns are the runs (of any job id) that ran this stage;
	// RunsCompleted those where every sheet of it completed.
	JobRuns, RunsCompleted int
	// What one sheet of the stage cost, its tries together, over the sheets
	// whose instrument reported a cost.
	HasCost                   bool
	CostP10, CostP50, CostP90 float64
}

// Stats is one computation over history; it is never changed once made.
type Stats struct {
	ByKey      map[Key]*StageStats
	Scores     []*messages.ScoreSummary // per score, over its runs
	ComputedAt time.Time
}

// Lookup returns the statistics of key, if history has any.
func (s *Stats) Lookup(k Key) (*StageStats, bool) {
	if s == nil {
		return nil, false
	}
	st, ok := s.ByKey[k]
	return st, ok
}

// Table holds the latest Stats. The correlation actor is its only writer;
// the job and profiler actors read it without a round trip (Stats are
// immutable once stored).
type Table struct{ p atomic.Pointer[Stats] }

// Load returns the latest statistics (nil before the first computation).
func (t *Table) Load() *Stats {
	if t == nil {
		return nil
	}
	return t.p.Load()
}

func (t *Table) store(s *Stats) { t.p.Store(s) }

// Compute builds statistics from finished tries.
func Compute(tries []store.FinishedTry, now time.Time) *Stats {
	type acc struct {
		st        StageStats
		done, all []time.Duration
		rss, cpu  []float64
		reasons   map[string]int
	}
	accs := map[Key]*acc{}
	for _, t := range tries {
		k := Key{keyScore(t), t.Stage, t.Instrument}
		a := accs[k]
		if a == nil {
			a = &acc{st: StageStats{Key: k}, reasons: map[string]int{}}
			accs[k] = a
		}
		a.st.Runs++
		a.all = append(a.all, t.Duration)
		if t.Profile.PeakRSSMB > 0 {
			a.rss = append(a.rss, t.Profile.PeakRSSMB)
		}
		if t.Profile.CPUSeconds > 0 {
			a.cpu = append(a.cpu, t.Profile.CPUSeconds)
		}
		if t.Profile.Stalled || t.Outcome == messages.OutcomeStalled {
			a.st.Stalls++
		}
		if t.Outcome.Succeeded() {
			a.st.Completed++
			a.done = append(a.done, t.Duration)
			continue
		}
		a.st.Failed++
		a.reasons[FailureKind(string(t.Outcome), t.Error)]++
	}
	out := &Stats{ByKey: make(map[Key]*StageStats, len(accs)), ComputedAt: now}
	for k, a := range accs {
		durs := a.done
		if len(durs) == 0 {
			durs = a.all
		}
		sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
		a.st.P10, a.st.P50, a.st.P90 = pct(durs, 10), pct(durs, 50), pct(durs, 90)
		sort.Float64s(a.rss)
		sort.Float64s(a.cpu)
		a.st.PeakRSSP90MB, a.st.CPUSecondsP50 = pctF(a.rss, 90), pctF(a.cpu, 50)
		for r, n := range a.reasons {
			a.st.Failures = append(a.st.Failures, &messages.FailureCount{Reason: r, Count: int64(n)})
		}
		sort.Slice(a.st.Failures, func(i, j int) bool {
			fi, fj := a.st.Failures[i], a.st.Failures[j]
			return fi.Count > fj.Count || fi.Count == fj.Count && fi.Reason < fj.Reason
		})
		if len(a.st.Failures) > 5 {
			a.st.Failures = a.st.Failures[:5]
		}
		st := a.st
		out.ByKey[k] = &st
	}
	out.Scores = runsOf(tries, out.ByKey)
	return out
}

// pct is the nearest-rank percentile of sorted values.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(i, 0)]
}

func pctF(sorted []float64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(i, 0)]
}

var digits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?(ms|s|m|h)?`)

// FailureKind groups failure messages that differ only in details: the
// exit code and the failed validation's type stay, paths and times go.
func FailureKind(outcome, msg string) string {
	switch {
	case outcome == string(messages.OutcomeTimedOut):
		return "timed out"
	case outcome == string(messages.OutcomeStalled) || strings.HasPrefix(msg, "stalled"):
		return "stalled"
	case strings.HasPrefix(msg, "validation failed: "):
		rest := strings.TrimPrefix(msg, "validation failed: ")
		kind, _, _ := strings.Cut(rest, ":")
		return "validation failed: " + kind
	case strings.HasPrefix(msg, "exit code "):
		code, _, _ := strings.Cut(msg, ":")
		return code
	case msg == "":
		return outcome
	}
	head, _, _ := strings.Cut(msg, ":")
	return digits.ReplaceAllString(head, "N")
}

// ToMessage turns statistics into their wire form.
func (st *StageStats) ToMessage() *messages.StageStats {
	rate := 0.0
	if st.Runs > 0 {
		rate = float64(st.Completed) / float64(st.Runs)
	}
	return &messages.StageStats{Score: st.Score, Stage: st.Stage, Instrument: st.Instrument,
		Runs: int64(st.Runs), Completed: int64(st.Completed), Failed: int64(st.Failed), SuccessRate: rate,
		DurationP50Seconds: st.P50.Seconds(), DurationP90Seconds: st.P90.Seconds(),
		PeakRssP90Mb: st.PeakRSSP90MB, CpuSecondsP50: st.CPUSecondsP50, Failures: st.Failures, Stalls: int64(st.Stalls),
		JobRuns: int64(st.JobRuns), RunSuccessRate: ratio(st.RunsCompleted, st.JobRuns), HasCost: st.HasCost,
		CostPerSheetP10Usd: st.CostP10, CostPerSheetP50Usd: st.CostP50, CostPerSheetP90Usd: st.CostP90}
}

func ratio(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}
