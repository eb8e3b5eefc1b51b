package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestFinishedUsageCost checks the usage sums of `list --all` over 10,000
// finished runs and, with -v, shows what they cost next to the listing (no
// timing is asserted: the machine is shared).
func TestFinishedUsageCost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10,000 runs")
	}
	h := newHarness(t)
	const n = 10_000
	var ops []Op
	for i := range n {
		key := fmt.Sprintf("j%d.1", i)
		j := job(key, fmt.Sprintf("j%d", i), "completed", i+1, i+2)
		s := sheet(key, 1, "completed")
		s.CostUSD, s.CostKnown, s.InputTokens, s.OutputTokens, s.TokensKnown = 0.25, true, 100, 10, true
		ops = append(ops, &InsertRun{Job: j}, &SaveSheets{Sheets: []SheetRow{s}})
	}
	for i := 0; i < len(ops); i += 2000 {
		h.mustWrite(t, ops[i:min(i+2000, len(ops))]...)
	}
	ctx := context.Background()
	timeIt := func(f func() error) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			if err := f(); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	var usage map[string]Usage
	list := timeIt(func() error { _, _, err := h.db.FinishedJobs(ctx, nil); return err })
	sum := timeIt(func() (err error) { _, _, usage, err = h.db.FinishedJobsUsage(ctx, nil); return err })
	t.Logf("10,000 finished runs: FinishedJobs %v, with the usage sums %v", list, sum)
	if u := usage["j42.1"]; len(usage) != n || u.CostUSD != 0.25 || !u.CostKnown || u.InputTokens != 100 {
		t.Fatalf("usage of %d runs, j42.1 = %+v", len(usage), u)
	}
	old := timeIt(func() error {
		rows, err := h.db.read.QueryContext(ctx, `SELECT s.run_key, s.status, count(*) FROM sheets s
			JOIN jobs j ON j.run_key = s.run_key
			WHERE j.status IN ('completed','failed','cancelled') GROUP BY s.run_key, s.status`)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		return rows.Close()
	})
	t.Logf("the sheet counts alone (before the usage sums joined them): %v", old)
}
