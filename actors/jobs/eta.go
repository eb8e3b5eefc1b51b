package jobs

import (
	"container/heap"
	"slices"
	"time"

	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/messages"
)

// etaCache bounds the cost of ETAs: a job publishes after every transition,
// the estimate is recomputed at most once per etaRefresh.
type etaCache struct {
	at             time.Time
	ok             bool
	eta, low, high time.Duration
	stats          *correlation.Stats
}

const etaRefresh = time.Second

// setETA fills the ETA of an unfinished, unpaused job whose remaining stages
// all have history.
func (j *jobActor) setETA(info *messages.JobInfo, now time.Time) {
	if j.finished || j.job.UserPaused || j.set.stats == nil {
		return
	}
	stats := j.set.stats.Load()
	if stats == nil {
		return
	}
	j.setCostEstimate(info, stats, now)
	if now.Sub(j.eta.at) >= etaRefresh || stats != j.eta.stats {
		j.eta = etaCache{at: now, stats: stats}
		j.eta.eta, j.eta.low, j.eta.high, j.eta.ok = j.estimate(stats, now)
	}
	if !j.eta.ok {
		return
	}
	since := now.Sub(j.eta.at)
	left := func(d time.Duration) float64 { return max(d-since, 0).Seconds() }
	info.HasEta, info.EtaSeconds, info.EtaLowSeconds, info.EtaHighSeconds = true, left(j.eta.eta), left(j.eta.low), left(j.eta.high)
}

// estimate simulates the rest of the job three times (with the p10, p50 and
// p90 durations of each stage): sheets start in number order as soon as
// their dependencies are done and one of the job's slots is free.
func (j *jobActor) estimate(stats *correlation.Stats, now time.Time) (eta, low, high time.Duration, ok bool) {
	slots := j.sc.MaxParallel
	if j.set.maxSheets > 0 {
		slots = min(slots, j.set.maxSheets)
	}
	pick := []func(*correlation.StageStats) time.Duration{
		func(st *correlation.StageStats) time.Duration { return st.P50 },
		func(st *correlation.StageStats) time.Duration { return st.P10 },
		func(st *correlation.StageStats) time.Duration { return st.P90 },
	}
	var out [3]time.Duration
	for i, p := range pick {
		d, known := j.simulate(stats, p, max(slots, 1), now)
		if !known {
			return 0, 0, 0, false
		}
		out[i] = d
	}
	return out[0], out[1], out[2], true
}

func (j *jobActor) simulate(stats *correlation.Stats, dur func(*correlation.StageStats) time.Duration, slots int, now time.Time) (time.Duration, bool) {
	finish := make([]time.Duration, len(j.sheets)) // from now
	never := make([]bool, len(j.sheets))           // ended without completing, or below such a sheet
	free := &durHeap{}
	var end time.Duration
	for _, s := range j.sheets {
		if s.row.Status != messages.SheetRunning {
			continue
		}
		st, ok := stats.Lookup(correlation.Key{Score: j.historyKey(), Stage: s.row.Stage, Instrument: s.row.Instrument})
		if !ok {
			return 0, false
		}
		left := max(dur(st)-now.Sub(s.row.StartedAt), 0)
		finish[s.row.Num-1] = left
		heap.Push(free, left)
		end = max(end, left)
	}
	for free.Len() < slots {
		heap.Push(free, time.Duration(0))
	}
	for _, s := range j.sheets {
		switch s.row.Status {
		case messages.SheetCompleted, messages.SheetRunning:
			continue
		case messages.SheetFailed, messages.SheetSkipped, messages.SheetCancelled:
			never[s.row.Num-1] = true // will not run unless resumed
			continue
		}
		if slices.ContainsFunc(s.sh.Deps, func(d int) bool { return never[d-1] }) {
			never[s.row.Num-1] = true // will be skipped
			continue
		}
		st, ok := stats.Lookup(correlation.Key{Score: j.historyKey(), Stage: s.row.Stage, Instrument: s.row.Instrument})
		if !ok {
			return 0, false
		}
		ready := time.Duration(0)
		if s.row.Status == messages.SheetWaiting {
			ready = max(s.row.WaitingUntil.Sub(now), 0)
		}
		for _, d := range s.sh.Deps {
			ready = max(ready, finish[d-1])
		}
		start := max(ready, heap.Pop(free).(time.Duration))
		finish[s.row.Num-1] = start + dur(st)
		heap.Push(free, finish[s.row.Num-1])
		end = max(end, finish[s.row.Num-1])
	}
	return end, true
}

type durHeap []time.Duration

func (h durHeap) Len() int           { return len(h) }
func (h durHeap) Less(a, b int) bool { return h[a] < h[b] }
func (h durHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *durHeap) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *durHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
