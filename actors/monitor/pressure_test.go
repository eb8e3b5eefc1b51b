package monitor

import (
	"fmt"
	"testing"
)

var thresholds = Thresholds{Low: 50, Medium: 70, High: 85, Critical: 95}

func TestNextLevel(t *testing.T) {
	tests := []struct {
		current Level
		percent float64
		want    Level
	}{
		// Rising is immediate, to each level and past several at once.
		{None, 0, None},
		{None, 49.9, None},
		{None, 50, Low},
		{None, 69.9, Low},
		{None, 70, Medium},
		{None, 85, High},
		{None, 95, Critical},
		{None, 250, Critical},
		{Low, 84.9, Medium},
		{Medium, 85, High},
		{High, 95, Critical},
		{Low, 96, Critical},
		// Staying.
		{Medium, 75, Medium},
		// Falling waits until usage is 5 points under the level's threshold.
		{Critical, 94.9, Critical},
		{Critical, 90, Critical},
		{Critical, 89.9, High},
		{High, 84.9, High},
		{High, 80, High},
		{High, 79.9, Medium},
		{Medium, 65, Medium},
		{Medium, 64.9, Low},
		{Low, 45, Low},
		{Low, 44.9, None},
		// A big fall drops several levels at once, but still with hysteresis
		// at the level it lands on.
		{Critical, 10, None},
		{Critical, 47, Low},
		{Critical, 66, Medium},
		{High, 0, None},
	}
	for _, tt := range tests {
		if got := NextLevel(tt.current, tt.percent, thresholds); got != tt.want {
			t.Errorf("NextLevel(%s, %.1f) = %s, want %s", tt.current, tt.percent, got, tt.want)
		}
	}
}

// rawLevel is the level with no memory of the past.
func rawLevel(p float64) Level {
	bounds := []float64{0, 50, 70, 85, 95}
	l := None
	for i, b := range bounds {
		if p >= b {
			l = Level(i)
		}
	}
	return l
}

func TestNextLevelInvariants(t *testing.T) {
	bounds := []float64{0, 50, 70, 85, 95}
	for cur := None; cur <= Critical; cur++ {
		for p10 := 0; p10 <= 1100; p10++ {
			p := float64(p10) / 10
			got, raw := NextLevel(cur, p, thresholds), rawLevel(p)
			name := fmt.Sprintf("NextLevel(%s, %.1f) = %s", cur, p, got)
			switch {
			case raw >= cur && got != raw:
				t.Fatalf("%s, want %s: rising or staying is immediate", name, raw)
			case got < raw || got > max(cur, raw):
				t.Fatalf("%s: outside [%s, %s]", name, raw, max(cur, raw))
			case got > raw && p < bounds[got]-hysteresis:
				t.Fatalf("%s: stuck at a level usage is more than %d points below", name, hysteresis)
			case got < cur && p >= bounds[got+1]-hysteresis:
				t.Fatalf("%s: dropped below %s within the hysteresis band", name, got+1)
			}
		}
	}
}

func TestLevelString(t *testing.T) {
	for l, want := range []string{"none", "low", "medium", "high", "critical"} {
		if got := Level(l).String(); got != want {
			t.Errorf("Level(%d) = %q, want %q", l, got, want)
		}
	}
}
