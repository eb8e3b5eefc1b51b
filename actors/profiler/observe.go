package profiler

import (
	"fmt"
	"os"
	"time"

	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/internal/proctable"
)

// Reading is one look at a try's process tree.
type Reading struct {
	Processes  int
	CPUTicks   uint64 // user + system of every live process of the tree
	RSSBytes   uint64
	Threads    int
	OpenFiles  int
	ReadBytes  int64
	WriteBytes int64
	OutputSize int64 // stdout + stderr written so far
}

// Measure reads the tree of a try (its leader's descendants and its process
// group) from one /proc walk, plus the size of its output files.
func Measure(t *proctable.Table, leader, pgid int, stdout, stderr string) Reading {
	var r Reading
	for _, pid := range t.Tree(leader, pgid) {
		p := t.Procs[pid]
		r.Processes++
		r.CPUTicks += p.CPUTicks
		r.RSSBytes += p.RSSBytes
		r.Threads += p.Threads
		r.OpenFiles += proctable.OpenFiles(pid)
		rd, wr := proctable.IO(pid)
		r.ReadBytes += rd
		r.WriteBytes += wr
	}
	for _, f := range []string{stdout, stderr} {
		if fi, err := os.Stat(f); err == nil {
			r.OutputSize += fi.Size()
		}
	}
	return r
}

// Policy is what a try is judged against.
type Policy struct {
	StallAfter  time.Duration // 0: never stalled
	Interval    time.Duration // the profiler's, for "sustained"
	ExpectedP90 time.Duration // the stage's p90 from history; 0: unknown
	// CPUOnly: new output is no activity (the instrument's liveness is
	// "cpu": it prints a heartbeat that goes on while it hangs).
	CPUOnly bool
}

// Anomaly thresholds.
const (
	// spikeMinMB and spikeFactor: RSS rising this much within spikeWindow
	// samples (a fast allocation may straddle two samples).
	spikeMinMB  = 100
	spikeFactor = 2.0
	spikeWindow = 3
	// runawayPercent of one core, sustained for runawayFor (at least 3 samples).
	runawayPercent = 90
	runawayFor     = time.Minute
	// longFactor times the stage's p90.
	longFactor = 3
	// idleCPUShare: CPU below this share of one core over the stall window is
	// no progress (runtimes tick a little even when they only wait).
	idleCPUShare = 0.01
)

// TryState is what the profiler remembers of one try between rounds.
type TryState struct {
	samples      int
	lastAt       time.Time
	lastTicks    uint64
	cpuTicks     uint64 // accumulated: increases only (processes that exit take theirs away)
	peakRSS      float64
	recentRSS    []rssAt // the last spikeWindow samples, oldest first
	lastOutput   int64
	progressAt   time.Time // last CPU progress or new output
	progressTick uint64    // cpuTicks at progressAt
	stalled      bool
	hotSince     time.Time
	runaway      bool
	long         bool
}

const mb = 1 << 20

// Observe folds a reading into the state and returns the try's profile, with
// a stall note, a resolution or anomaly notes when this round found one.
func (st *TryState) Observe(r Reading, started, now time.Time, pol Policy) jobs.SheetProfile {
	rss := float64(r.RSSBytes) / mb
	p := jobs.SheetProfile{RSSMB: rss, Threads: r.Threads, Processes: r.Processes, OpenFiles: r.OpenFiles,
		ReadBytes: r.ReadBytes, WriteBytes: r.WriteBytes}
	first := st.samples == 0
	if first {
		st.cpuTicks, st.progressAt, st.lastOutput = r.CPUTicks, started, r.OutputSize
		st.progressTick = r.CPUTicks
		if r.OutputSize > 0 || r.CPUTicks > 0 {
			st.progressAt = now
		}
	} else if r.CPUTicks > st.lastTicks {
		st.cpuTicks += r.CPUTicks - st.lastTicks
	}
	if !first {
		if dt := now.Sub(st.lastAt).Seconds(); dt > 0 && r.CPUTicks >= st.lastTicks {
			p.CPUPercent = float64(r.CPUTicks-st.lastTicks) / proctable.ClockTicks / dt * 100
		}
	}
	st.samples++
	st.lastAt, st.lastTicks = now, r.CPUTicks
	st.peakRSS = max(st.peakRSS, rss)
	p.PeakRSSMB = st.peakRSS
	p.CPUSeconds = float64(st.cpuTicks) / proctable.ClockTicks
	if elapsed := now.Sub(started).Seconds(); elapsed > 0 {
		p.MeanCPU = p.CPUSeconds / elapsed * 100
	}

	// Stall: no new output and (almost) no CPU since progressAt.
	progressed := r.OutputSize != st.lastOutput && !pol.CPUOnly
	window := now.Sub(st.progressAt)
	if burned := float64(st.cpuTicks-st.progressTick) / proctable.ClockTicks; burned > idleCPUShare*max(window.Seconds(), 1) {
		progressed = true
	}
	st.lastOutput = r.OutputSize
	if progressed && !first {
		st.progressAt, st.progressTick = now, st.cpuTicks
		if st.stalled {
			st.stalled = false
			p.StallResolved = true
		}
	}
	if pol.StallAfter > 0 && !st.stalled && now.Sub(st.progressAt) >= pol.StallAfter {
		st.stalled = true
		p.StallNote = fmt.Sprintf("no CPU progress and no new output for %s (stall_after %s)",
			roughly(now.Sub(st.progressAt)), pol.StallAfter)
	}
	p.Stalled = st.stalled

	// Anomalies, each flagged once per try (a spike each time it happens).
	if base, ok := st.spikeBase(rss); ok {
		p.NewNotes = append(p.NewNotes, fmt.Sprintf("memory spike: RSS rose from %.0f MB to %.0f MB in %s",
			base.mb, rss, roughly(now.Sub(base.at))))
		st.recentRSS = st.recentRSS[:0] // one note per rise
	}
	st.recentRSS = append(st.recentRSS, rssAt{rss, now})
	if len(st.recentRSS) > spikeWindow {
		st.recentRSS = st.recentRSS[1:]
	}
	if p.CPUPercent >= runawayPercent {
		if st.hotSince.IsZero() {
			st.hotSince = now
		}
		sustained := max(runawayFor, 3*pol.Interval)
		if !st.runaway && now.Sub(st.hotSince) >= sustained {
			st.runaway = true
			p.NewNotes = append(p.NewNotes, fmt.Sprintf("runaway CPU: %.0f%% of a core for %s",
				p.CPUPercent, roughly(now.Sub(st.hotSince))))
		}
	} else if !first {
		st.hotSince = time.Time{}
	}
	if pol.ExpectedP90 > 0 && !st.long {
		if ran := now.Sub(started); ran > longFactor*pol.ExpectedP90 {
			st.long = true
			p.NewNotes = append(p.NewNotes, fmt.Sprintf("running %s, more than %dx the stage's p90 (%s)",
				ran.Round(time.Second), longFactor, pol.ExpectedP90.Round(time.Second)))
		}
	}
	return p
}

// roughly rounds a duration for a note: tenths of a second when short.
func roughly(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

type rssAt struct {
	mb float64
	at time.Time
}

// spikeBase finds the lowest recent sample rss has risen from by a spike.
func (st *TryState) spikeBase(rss float64) (rssAt, bool) {
	var base rssAt
	found := false
	for _, r := range st.recentRSS {
		if !found || r.mb <= base.mb { // the latest of equals: the shortest rise
			base, found = r, true
		}
	}
	return base, found && rss-base.mb >= spikeMinMB && rss >= spikeFactor*base.mb
}
