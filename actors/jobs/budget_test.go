package jobs

import (
	"testing"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/sheetrun"
)

func TestOverBudget(t *testing.T) {
	t.Parallel()
	known := func(v float64) store.Usage { return store.Usage{CostUSD: v, CostKnown: true} }
	for _, tc := range []struct {
		name  string
		limit float64
		spent store.Usage
		want  bool
	}{
		{"no budget", 0, known(100), false},
		{"under", 0.5, known(0.3), false},
		{"at the limit", 0.5, known(0.5), true},
		{"past it", 0.5, known(0.6), true},
		{"unknown cost never counts", 0.5, store.Usage{CostUSD: 9}, false},
	} {
		if got := overBudget(tc.limit, tc.spent); got != tc.want {
			t.Errorf("%s: overBudget(%v, %+v) = %v, want %v", tc.name, tc.limit, tc.spent, got, tc.want)
		}
	}
}

func TestRaisedBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		limit, add float64
		spent      store.Usage
		want       float64
	}{
		{"a budget gets more", 0.5, 5, store.Usage{CostUSD: 0.6, CostKnown: true}, 5.5},
		{"no budget: beyond what was spent", 0, 5, store.Usage{CostUSD: 0.6, CostKnown: true}, 5.6},
		{"no budget, nothing known spent", 0, 5, store.Usage{}, 5},
	} {
		if got := raisedBudget(tc.limit, tc.add, tc.spent); got != tc.want {
			t.Errorf("%s: raisedBudget = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The job's running total follows every try, a sheet's earlier tries
// included, and an instrument that reports nothing leaves the cost unknown.
func TestAddUsage(t *testing.T) {
	t.Parallel()
	j := &jobActor{sheets: []*sheetState{{}, {}}}
	if u := j.spentUsage(); u.CostKnown || u.TokensKnown {
		t.Fatalf("fresh job: %+v, want nothing known", u)
	}
	j.countUsage(j.sheets[1], usageOf(0, 0, 0, false, false)) // shell: nothing
	if u := j.spentUsage(); u.CostKnown || u.TokensKnown {
		t.Fatalf("after a shell try: %+v, want nothing known", u)
	}
	j.countUsage(j.sheets[0], usageOf(100, 10, 0.25, true, true))
	j.countUsage(j.sheets[0], usageOf(100, 10, 0.25, true, true))
	j.countUsage(j.sheets[1], usageOf(50, 5, 0, false, true)) // codex: tokens only
	want := store.Usage{CostUSD: 0.5, CostKnown: true, InputTokens: 250, OutputTokens: 25, TokensKnown: true}
	if u := j.spentUsage(); u != want {
		t.Errorf("spent = %+v, want %+v", u, want)
	}
	if s := j.sheets[1].row; s.CostKnown || !s.TokensKnown || s.InputTokens != 50 {
		t.Errorf("codex sheet = %+v, want tokens only", s)
	}
	// Summed again from the rows (as after a restart), the total is the same.
	if u := store.SheetsUsage(j.rows()); u != want {
		t.Errorf("from the rows = %+v, want %+v", u, want)
	}
}

func usageOf(in, out int64, cost float64, hasCost, hasTokens bool) sheetrun.Usage {
	return sheetrun.Usage{InputTokens: in, OutputTokens: out, CostUSD: cost, HasCost: hasCost, HasTokens: hasTokens}
}
