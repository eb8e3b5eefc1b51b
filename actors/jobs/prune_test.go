package jobs

import "testing"

func TestPruneIsAmortized(t *testing.T) {
	for _, c := range []struct {
		keep     int
		finished int
		prunes   int
	}{
		{keep: 1, finished: 5, prunes: 5},                 // a tiny history is exact
		{keep: 150, finished: 5, prunes: 5},               // 1% of 150 is 1
		{keep: 10000, finished: 1, prunes: 1},             // the first finish after a start prunes
		{keep: 10000, finished: 100, prunes: 1},           // then one in 100
		{keep: 10000, finished: 101, prunes: 2},           //
		{keep: 1000, finished: 21, prunes: 3},             // one in 10
		{keep: 1_000_000, finished: 1001, prunes: 1 + 10}, // never more than 100 apart
		{keep: 0, finished: 3, prunes: 3},                 // floors keep it >= 1; still safe
	} {
		var p pruneState
		n := 0
		for range c.finished {
			if p.due(c.keep) {
				n++
			}
		}
		if n != c.prunes {
			t.Errorf("keep %d, %d finished: %d prunes, want %d", c.keep, c.finished, n, c.prunes)
		}
	}
}
