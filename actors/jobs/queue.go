package jobs

import (
	"container/heap"
	"fmt"

	"github.com/mzt-dev/mzt/messages"
)

// candidate is a queued job as admission sees it.
type candidate struct {
	id       string
	priority int64
	seq      int64 // submission order; negative for jobs that ran before a restart
	group    string
	paused   bool // holds no slot: admitted at once so that resume works
	waiting  bool // some job it runs after has not finished
}

// queueLimits are the slots admission fills: max_concurrent_jobs and each
// group's parallelism, with what already runs against them.
type queueLimits struct {
	maxJobs      int
	running      int
	groupLimit   map[string]int // groups without an entry are unlimited
	groupRunning map[string]int
}

// pickAdmissions is the admission rule: jobs that ran before a restart
// first, then higher priority first, first come first served within a
// priority; a job whose group is full is passed over for the next one, and
// a job that waits for others is not admitted at all. It returns the ids to
// admit, in order.
func pickAdmissions(queue []candidate, lim queueLimits) []string {
	// Candidates are taken from a heap in queue order, and only as long as
	// one can still be admitted: after a job ends in a long queue that is
	// one or two, not a sort of the whole queue. With every slot taken
	// (after each submit) only paused jobs can be.
	full := lim.running >= lim.maxJobs
	q := admissionHeap{queue: queue, items: make([]int32, 0, len(queue))}
	for i, c := range queue {
		if c.waiting || (full && !c.paused) {
			continue
		}
		q.items = append(q.items, int32(i))
		if c.paused {
			q.paused++
		}
	}
	heap.Init(&q)
	running := lim.running
	inGroup := make(map[string]int, len(lim.groupRunning))
	for g, n := range lim.groupRunning {
		inGroup[g] = n
	}
	var out []string
	for q.Len() > 0 && (running < lim.maxJobs || q.paused > 0) {
		c := queue[heap.Pop(&q).(int32)]
		switch {
		case c.paused:
			q.paused--
			out = append(out, c.id)
			continue
		case running >= lim.maxJobs:
			continue
		}
		if limit, ok := lim.groupLimit[c.group]; ok && c.group != "" && inGroup[c.group] >= limit {
			continue
		}
		running++
		inGroup[c.group]++
		out = append(out, c.id)
	}
	return out
}

// admissionHeap orders candidates (indices into queue) by the admission
// rule; paused counts the paused ones in it.
type admissionHeap struct {
	queue  []candidate
	items  []int32
	paused int
}

func (h *admissionHeap) Len() int { return len(h.items) }
func (h *admissionHeap) Less(i, k int) bool {
	a, b := &h.queue[h.items[i]], &h.queue[h.items[k]]
	if (a.seq < 0) != (b.seq < 0) {
		return a.seq < 0
	}
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.seq < b.seq
}
func (h *admissionHeap) Swap(i, k int) { h.items[i], h.items[k] = h.items[k], h.items[i] }
func (h *admissionHeap) Push(x any)    { h.items = append(h.items, x.(int32)) }
func (h *admissionHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}

// depVerdict says what a job that runs after others does now: wait for the
// ones in waiting, be cancelled (cancel says why), or neither (go ahead).
// state gives a dependency's latest status; known is false for an id
// neither running nor in the store (its history was pruned), which counts
// as finished with an unknown outcome. With anyOutcome the job runs once
// they all finished, whatever their outcome.
func depVerdict(after []string, anyOutcome bool, state func(id string) (st messages.JobState, known bool)) (waiting []string, cancel string) {
	for _, id := range after {
		st, known := state(id)
		switch {
		case known && !st.Terminal():
			waiting = append(waiting, id)
		case anyOutcome || st == messages.JobCompleted:
		case !known:
			return nil, fmt.Sprintf("job %s it runs after is no longer known", id)
		default:
			return nil, fmt.Sprintf("job %s it runs after %s", id, st)
		}
	}
	return waiting, ""
}

// dependencyCycle returns the path from id back to itself through the jobs
// each job runs after (after gives them), or nil when there is none.
func dependencyCycle(id string, deps []string, after func(id string) []string) []string {
	seen := map[string]bool{}
	var walk func(path []string, next []string) []string
	walk = func(path []string, next []string) []string {
		for _, d := range next {
			p := append(append([]string(nil), path...), d)
			if d == id {
				return p
			}
			if seen[d] {
				continue
			}
			seen[d] = true
			if c := walk(p, after(d)); c != nil {
				return c
			}
		}
		return nil
	}
	return walk([]string{id}, deps)
}
