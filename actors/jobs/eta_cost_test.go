package jobs

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/messages"
)

// The expected cost is what was spent plus, per sheet left, its stage's
// cost per sheet in history; a stage without history means no estimate, one
// whose instrument reports no cost adds nothing.
func TestEstimateCost(t *testing.T) {
	t.Parallel()
	stats := etaStats(map[string]time.Duration{"a": time.Second, "b": time.Second, "c": time.Second})
	for _, stage := range []string{"a", "b"} {
		for k, st := range stats.ByKey {
			if k.Stage == stage {
				st.HasCost, st.CostP10, st.CostP50, st.CostP90 = true, 0.1, 0.2, 0.4
			}
		}
	}
	j := etaJob(t, 2)
	mid, low, high, ok := j.estimateCost(stats)
	if !ok || !near(mid, 0.6) || !near(low, 0.3) || !near(high, 1.2) {
		t.Errorf("all pending: %v (%v-%v), %v; want 0.6 (0.3-1.2)", mid, low, high, ok)
	}
	// Voice 1 done at $0.25: spent, and nothing more for it.
	j = etaJob(t, 2)
	j.sheets[0].row.Status, j.sheets[0].row.CostUSD, j.sheets[0].row.CostKnown = messages.SheetCompleted, 0.25, true
	if mid, _, _, ok = j.estimateCost(stats); !ok || !near(mid, 0.65) {
		t.Errorf("one voice done: %v, %v; want 0.65", mid, ok)
	}
	// A running sheet that already spent part of its share adds the rest.
	j = etaJob(t, 2)
	j.sheets[2].row.Status, j.sheets[2].row.CostUSD, j.sheets[2].row.CostKnown = messages.SheetRunning, 0.15, true
	if mid, _, _, ok = j.estimateCost(stats); !ok || !near(mid, 0.6) {
		t.Errorf("running sheet part spent: %v, %v; want 0.6", mid, ok)
	}
	// No history for c: no estimate.
	delete(stats.ByKey, correlation.Key{Score: "eta", Stage: "c", Instrument: "shell"})
	if _, _, _, ok = etaJob(t, 2).estimateCost(stats); ok {
		t.Error("a stage without history still gave an estimate")
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
