package profiler

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/jobs"
)

var obsStart = time.Unix(1_760_000_000, 0)

// at is a time s seconds after the try started.
func at(s float64) time.Time { return obsStart.Add(time.Duration(s * float64(time.Second))) }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

const mib = 1 << 20

// feeder drives one TryState with explicit times.
type feeder struct {
	t   *testing.T
	st  TryState
	pol Policy
}

func (f *feeder) at(s float64, r Reading) jobs.SheetProfile {
	f.t.Helper()
	return f.st.Observe(r, obsStart, at(s), f.pol)
}

func TestObserveCPUPercentFromTickDeltas(t *testing.T) {
	f := &feeder{t: t, pol: Policy{Interval: time.Second}}
	if p := f.at(1, Reading{CPUTicks: 40}); p.CPUPercent != 0 {
		t.Errorf("first reading: CPU %v%%, want 0 (no delta yet)", p.CPUPercent)
	}
	cases := []struct {
		sec   float64
		ticks uint64
		want  float64
	}{
		{2, 140, 100}, // 100 ticks over 1 s: one full core
		{3, 190, 50},  // 50 ticks over 1 s
		{5, 490, 150}, // 300 ticks over 2 s: one and a half cores
		{7, 490, 0},   // idle
	}
	for _, c := range cases {
		if p := f.at(c.sec, Reading{CPUTicks: c.ticks}); !near(p.CPUPercent, c.want) {
			t.Errorf("at %vs with %d ticks: CPU %v%%, want %v%%", c.sec, c.ticks, p.CPUPercent, c.want)
		}
	}
	// Two readings at the same instant: no division by zero, no percentage.
	if p := f.at(7, Reading{CPUTicks: 600}); p.CPUPercent != 0 || math.IsInf(p.CPUPercent, 0) || math.IsNaN(p.CPUPercent) {
		t.Errorf("a reading with no time elapsed: CPU %v%%, want 0", p.CPUPercent)
	}
}

func TestObservePeakAndCPUSecondsNeverDecrease(t *testing.T) {
	f := &feeder{t: t, pol: Policy{Interval: 5 * time.Second}}
	steps := []struct {
		sec           float64
		ticks, rssMB  uint64
		wantCPUSec    float64
		wantPeakMB    float64
		wantCPUPct    float64
		wantRSSMB     float64
		wantProcesses int
	}{
		{5, 100, 300, 1.0, 300, 0, 300, 3},   // the first reading counts the ticks already burned
		{10, 250, 500, 2.5, 500, 30, 500, 3}, // +150 ticks over 5 s
		{15, 50, 100, 2.5, 500, 0, 100, 1},   // two children exit: raw ticks and RSS drop
		{20, 150, 120, 3.5, 500, 20, 120, 1}, // counting resumes from the lower raw value
		{25, 150, 700, 3.5, 700, 0, 700, 2},  // a new peak
		{30, 150, 10, 3.5, 700, 0, 10, 1},    // and down again
	}
	for _, s := range steps {
		p := f.at(s.sec, Reading{CPUTicks: s.ticks, RSSBytes: s.rssMB * mib, Processes: s.wantProcesses})
		if !near(p.CPUSeconds, s.wantCPUSec) || !near(p.PeakRSSMB, s.wantPeakMB) || !near(p.RSSMB, s.wantRSSMB) ||
			!near(p.CPUPercent, s.wantCPUPct) || p.Processes != s.wantProcesses {
			t.Errorf("at %vs (ticks %d, RSS %d MB): CPU %vs peak %v MB RSS %v MB CPU %v%% procs %d; "+
				"want %vs, %v MB, %v MB, %v%%, %d", s.sec, s.ticks, s.rssMB, p.CPUSeconds, p.PeakRSSMB, p.RSSMB,
				p.CPUPercent, p.Processes, s.wantCPUSec, s.wantPeakMB, s.wantRSSMB, s.wantCPUPct, s.wantProcesses)
		}
		if want := s.wantCPUSec / s.sec * 100; !near(p.MeanCPU, want) {
			t.Errorf("at %vs: mean CPU %v%%, want %v%% (CPU seconds over time since start)", s.sec, p.MeanCPU, want)
		}
	}
}

func TestObserveStall(t *testing.T) {
	pol := Policy{StallAfter: time.Minute, Interval: 5 * time.Second}

	t.Run("no output and no CPU stalls once, output resolves once", func(t *testing.T) {
		f := &feeder{t: t, pol: pol}
		r := Reading{OutputSize: 10, CPUTicks: 0}
		var notes, stalledAt []float64
		for s := 5.0; s <= 120; s += 5 {
			p := f.at(s, r)
			if p.StallNote != "" {
				notes = append(notes, s)
				if !strings.Contains(p.StallNote, "1m0s") {
					t.Errorf("stall note %q does not name stall_after", p.StallNote)
				}
			}
			if p.Stalled {
				stalledAt = append(stalledAt, s)
			}
			if p.StallResolved {
				t.Errorf("at %vs: StallResolved without progress", s)
			}
		}
		// Last progress at 5 s (output seen by the first reading): stalled from 65 s on.
		if len(notes) != 1 || notes[0] != 65 {
			t.Errorf("stall notes at %v s, want exactly one at 65 s", notes)
		}
		if len(stalledAt) == 0 || stalledAt[0] != 65 || len(stalledAt) != 12 {
			t.Errorf("Stalled at %v, want true from 65 s through 120 s", stalledAt)
		}

		r.OutputSize = 20
		p := f.at(125, r)
		if !p.StallResolved || p.Stalled || p.StallNote != "" {
			t.Errorf("output grew: resolved %v stalled %v note %q; want resolved, not stalled", p.StallResolved, p.Stalled, p.StallNote)
		}
		p = f.at(130, r)
		if p.StallResolved || p.Stalled {
			t.Errorf("round after the resolution: resolved %v stalled %v; want neither", p.StallResolved, p.Stalled)
		}
		// And it can stall again, a minute after the new progress.
		if p = f.at(184, r); p.Stalled {
			t.Error("stalled again 59 s after progress")
		}
		if p = f.at(185, r); !p.Stalled || p.StallNote == "" {
			t.Errorf("60 s after progress: stalled %v note %q; want a new stall", p.Stalled, p.StallNote)
		}
	})

	t.Run("liveness cpu: a heartbeat on stdout is no progress", func(t *testing.T) {
		f := &feeder{t: t, pol: Policy{StallAfter: time.Minute, Interval: 5 * time.Second, CPUOnly: true}}
		var stalledAt float64
		for s := 5.0; s <= 120; s += 5 {
			// The output grows every round, the CPU does not move.
			if p := f.at(s, Reading{OutputSize: int64(s) * 10}); p.Stalled && stalledAt == 0 {
				stalledAt = s
			}
		}
		if stalledAt != 65 {
			t.Errorf("stalled at %v s, want 65 s: output must not count as activity", stalledAt)
		}
	})

	t.Run("a stream of events on stdout is progress", func(t *testing.T) {
		f := &feeder{t: t, pol: pol}
		for s := 5.0; s <= 300; s += 5 {
			if p := f.at(s, Reading{OutputSize: int64(s) * 10}); p.Stalled {
				t.Fatalf("stalled at %v s while its output grows", s)
			}
		}
	})

	t.Run("CPU below 1% of the window is no progress", func(t *testing.T) {
		f := &feeder{t: t, pol: pol}
		r := Reading{OutputSize: 1, CPUTicks: 500}
		f.at(5, r) // progress at 5 s
		stalled := false
		for s := 10.0; s <= 65; s += 5 {
			r.CPUTicks++ // 0.01 s of CPU every 5 s: 0.2% of a core
			if p := f.at(s, r); p.Stalled {
				stalled = true
				if s != 65 {
					t.Errorf("stalled at %v s, want at 65 s", s)
				}
			}
		}
		if !stalled {
			t.Error("a try ticking 0.2% of a core never stalled")
		}
	})

	t.Run("CPU above 1% of the window is progress", func(t *testing.T) {
		f := &feeder{t: t, pol: pol}
		r := Reading{OutputSize: 1, CPUTicks: 500}
		f.at(5, r)
		for s := 10.0; s <= 600; s += 5 {
			r.CPUTicks += 10 // 0.1 s every 5 s: 2% of a core, no output
			if p := f.at(s, r); p.Stalled || p.StallNote != "" {
				t.Fatalf("a try burning 2%% of a core stalled at %v s", s)
			}
		}
	})

	t.Run("CPU ends a stall", func(t *testing.T) {
		f := &feeder{t: t, pol: pol}
		r := Reading{OutputSize: 1}
		for s := 5.0; s <= 70; s += 5 {
			f.at(s, r)
		}
		if !f.st.stalled {
			t.Fatal("no stall after 65 s without progress")
		}
		r.CPUTicks += 200 // 2 s of CPU, more than 1% of the 65 s window
		if p := f.at(75, r); !p.StallResolved || p.Stalled {
			t.Errorf("2 s of CPU: resolved %v stalled %v; want resolved", p.StallResolved, p.Stalled)
		}
	})

	t.Run("a dying child's ticks are no progress", func(t *testing.T) {
		f := &feeder{t: t, pol: pol}
		f.at(5, Reading{OutputSize: 1, CPUTicks: 10_000})
		// The child exits: raw ticks fall, then sit still. No CPU was burned.
		for s := 10.0; s < 65; s += 5 {
			if p := f.at(s, Reading{OutputSize: 1, CPUTicks: 5}); p.Stalled {
				t.Fatalf("stalled at %v s, before stall_after", s)
			}
		}
		if p := f.at(65, Reading{OutputSize: 1, CPUTicks: 5}); !p.Stalled {
			t.Error("falling raw ticks counted as progress: not stalled at 65 s")
		}
	})

	t.Run("StallAfter 0 never stalls", func(t *testing.T) {
		f := &feeder{t: t, pol: Policy{Interval: 5 * time.Second}}
		for s := 5.0; s <= 24*3600; s += 600 {
			if p := f.at(s, Reading{}); p.Stalled || p.StallNote != "" {
				t.Fatalf("stalled at %v s with StallAfter 0", s)
			}
		}
	})
}

func TestObserveMemorySpike(t *testing.T) {
	spikes := func(p jobs.SheetProfile) int {
		n := 0
		for _, note := range p.NewNotes {
			if strings.HasPrefix(note, "memory spike") {
				n++
			}
		}
		return n
	}
	f := &feeder{t: t, pol: Policy{Interval: 5 * time.Second}}
	steps := []struct {
		rssMB uint64
		want  int
		why   string
	}{
		{150, 0, "first reading"},
		{300, 1, "doubled, +150 MB"},
		{350, 0, "+50 MB"},
		{500, 0, "+200 MB over the window but less than double"},
		{10, 0, "a drop"},
		{60, 0, "six times, but only +50 MB"},
		{160, 1, "+100 MB and more than double"},
		{400, 1, "another spike is noted again"},
	}
	for i, s := range steps {
		p := f.at(float64(5*(i+1)), Reading{RSSBytes: s.rssMB * mib})
		if got := spikes(p); got != s.want {
			t.Errorf("step %d (RSS %d MB, %s): %d spike notes %q, want %d", i, s.rssMB, s.why, got, p.NewNotes, s.want)
		}
	}
}

// An allocation that straddles samples is one spike, measured from the
// lowest of the recent samples.
func TestObserveMemorySpikeAcrossSamples(t *testing.T) {
	f := &feeder{t: t, pol: Policy{Interval: 100 * time.Millisecond}}
	var notes []string
	for i, mb := range []uint64{20, 20, 90, 180, 200, 210} {
		p := f.at(float64(i+1)*0.1, Reading{RSSBytes: mb * mib})
		notes = append(notes, p.NewNotes...)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "memory spike: RSS rose from 20 MB to 180 MB in 200ms") {
		t.Fatalf("notes %q, want one spike from 20 MB to 180 MB in 200ms", notes)
	}
}

func TestObserveRunawayCPU(t *testing.T) {
	runaway := func(p jobs.SheetProfile) bool {
		for _, note := range p.NewNotes {
			if strings.HasPrefix(note, "runaway CPU") {
				return true
			}
		}
		return false
	}
	// run feeds readings every interval until end with the given CPU percent
	// per interval and returns the times of runaway notes.
	run := func(interval time.Duration, end float64, pct func(s float64) float64) []float64 {
		f := &feeder{t: t, pol: Policy{Interval: interval}}
		step := interval.Seconds()
		var ticks uint64
		var notes []float64
		f.at(0.001, Reading{}) // the first reading has no percentage
		for s := step; s <= end; s += step {
			ticks += uint64(math.Round(pct(s) * step)) // percent of a core over step seconds, in 1/100 s ticks
			p := f.at(s, Reading{CPUTicks: ticks})
			if !near(p.CPUPercent, pct(s)) && s > step {
				t.Fatalf("setup: CPU %v%% at %v s, want %v%%", p.CPUPercent, s, pct(s))
			}
			if runaway(p) {
				notes = append(notes, s)
			}
		}
		return notes
	}
	eq := func(a []float64, b ...float64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}

	// 5 s interval: a minute at >= 90%, counted from the first hot reading (5 s).
	if got := run(5*time.Second, 600, func(float64) float64 { return 100 }); !eq(got, 65) {
		t.Errorf("100%% for 10 min at 5 s interval: notes at %v s, want once at 65 s", got)
	}
	if got := run(5*time.Second, 600, func(float64) float64 { return 90 }); !eq(got, 65) {
		t.Errorf("exactly 90%%: notes at %v s, want once at 65 s", got)
	}
	if got := run(5*time.Second, 600, func(float64) float64 { return 89 }); len(got) != 0 {
		t.Errorf("89%%: notes at %v s, want none", got)
	}
	// Dipping every 55 s resets the clock: never a minute in a row.
	dips := func(s float64) float64 {
		if int(s)%55 == 0 {
			return 40
		}
		return 100
	}
	if got := run(5*time.Second, 600, dips); len(got) != 0 {
		t.Errorf("hot with a dip every 55 s: notes at %v s, want none", got)
	}
	// One dip at 60 s: the minute starts again at 65 s.
	oneDip := func(s float64) float64 {
		if s == 60 {
			return 10
		}
		return 100
	}
	if got := run(5*time.Second, 600, oneDip); !eq(got, 125) {
		t.Errorf("hot with a dip at 60 s: notes at %v s, want once at 125 s", got)
	}
	// 30 s interval: three intervals (90 s) outweigh the minute.
	if got := run(30*time.Second, 900, func(float64) float64 { return 100 }); !eq(got, 120) {
		t.Errorf("100%% at 30 s interval: notes at %v s, want once at 120 s (90 s after the first hot reading at 30 s)", got)
	}
}

func TestObserveLongRunning(t *testing.T) {
	long := func(p jobs.SheetProfile) bool {
		for _, note := range p.NewNotes {
			if strings.HasPrefix(note, "running ") {
				return true
			}
		}
		return false
	}
	f := &feeder{t: t, pol: Policy{Interval: 5 * time.Second, ExpectedP90: 10 * time.Second}}
	var notes []float64
	for s := 5.0; s <= 120; s += 5 {
		if p := f.at(s, Reading{}); long(p) {
			notes = append(notes, s)
			if !strings.Contains(p.NewNotes[0], "3x") || !strings.Contains(p.NewNotes[0], "10s") {
				t.Errorf("long-running note %q does not name the factor and p90", p.NewNotes[0])
			}
		}
	}
	if len(notes) != 1 || notes[0] != 35 {
		t.Errorf("long-running notes at %v s, want once at 35 s (first past 3 x 10 s)", notes)
	}

	f = &feeder{t: t, pol: Policy{Interval: 5 * time.Second}}
	for s := 5.0; s <= 48*3600; s += 3600 {
		if p := f.at(s, Reading{}); long(p) {
			t.Fatalf("long-running note at %v s with no p90 known", s)
		}
	}
}
