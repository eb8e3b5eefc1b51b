package correlation

import (
	"testing"
	"time"
)

// A busy queue says history changed every few milliseconds: the analyzer
// computes at once after a quiet spell, never twice at a time, rests
// restShare times as long as a computation took, and then computes once for
// every change that came meanwhile.
func TestPacer(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		what  string // changed, tick, done (took 10ms)
		at    int    // ms
		start bool   // changed, tick: compute now
		wait  int    // changed: a tick asked for after ms (0: none); done: the next tick
	}
	minute := int(refreshEvery / time.Millisecond)
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"a change after a quiet spell computes at once", []step{
			{"changed", 0, true, 0}, {"done", 10, false, minute},
			{"changed", 500, true, 0},
		}},
		{"changes while computing give one more, after the rest", []step{
			{"changed", 0, true, 0},
			{"changed", 3, false, 0}, {"changed", 6, false, 0},
			{"done", 10, false, 90}, // restShare x 10ms
			{"changed", 20, false, 0},
			{"tick", 100, true, 0}, {"done", 110, false, minute},
		}},
		{"a change while resting asks for one tick at the rest's end", []step{
			{"changed", 0, true, 0}, {"done", 10, false, minute},
			{"changed", 15, false, 85}, {"changed", 20, false, 0}, {"changed", 99, false, 0},
			{"tick", 100, true, 0},
			{"changed", 105, false, 0}, // computing: remembered
			{"done", 110, false, 90},
		}},
		{"a tick that finds a computation running is dropped", []step{
			{"changed", 0, true, 0}, {"done", 10, false, minute},
			{"changed", 100, true, 0},
			{"tick", 105, false, 0},
			{"done", 110, false, minute},
		}},
	} {
		var p pacer
		for i, s := range c.steps {
			var start bool
			var wait time.Duration
			switch s.what {
			case "changed":
				start, wait = p.changed(at(s.at))
			case "tick":
				start = p.tick()
			case "done":
				wait = p.done(at(s.at), 10*time.Millisecond)
			}
			if start != s.start || wait != time.Duration(s.wait)*time.Millisecond {
				t.Errorf("%s: step %d (%s at %dms): start %v, wait %s; want %v, %dms", c.name, i, s.what, s.at,
					start, wait, s.start, s.wait)
			}
		}
	}
}
