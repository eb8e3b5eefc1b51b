package strict

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLineIndex(t *testing.T) {
	data := []byte("a = 1\r\n\nbb = 2\nlast")
	l := newLineIndex(data)
	for _, tt := range []struct {
		offset    int
		line, col int
	}{
		{0, 1, 1}, {4, 1, 5}, {6, 1, 7}, {7, 2, 1}, {8, 3, 1}, {13, 3, 6}, {15, 4, 1}, {18, 4, 4}, {19, 4, 5},
	} {
		if got := l.at(tt.offset); got != (position{tt.line, tt.col}) {
			t.Errorf("at(%d) = %d:%d, want %d:%d", tt.offset, got.line, got.col, tt.line, tt.col)
		}
	}
}

// Locating every key costs one pass: ten times the keys, about ten times
// the time (it was a hundred: every key counted lines from the top). The
// bound is loose, for a busy machine.
func TestLocateScalesLinearly(t *testing.T) {
	doc := func(n int) []byte {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "[[stage]]\nid = \"s%d\"\nprompt = \"true\"\n", i)
		}
		return []byte(b.String())
	}
	cost := func(data []byte) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			if Locate(data).Line("stage[0].id") != 2 {
				t.Fatal("stage[0].id not on line 2")
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	// A quadratic cost is ~100x; a busy machine can stretch a linear one past
	// 30x once, so the comparison gets three chances below 50x.
	small, large := doc(2000), doc(20000)
	var ratio float64
	for range 3 {
		t1, t10 := cost(small), cost(large)
		t.Logf("2,000 stages: %v; 20,000: %v", t1, t10)
		if ratio = float64(t10) / float64(t1); ratio <= 50 {
			return
		}
	}
	t.Errorf("10x the stages took %.0fx the time", ratio)
}
