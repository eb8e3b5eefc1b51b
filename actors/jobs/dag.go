package jobs

import (
	"container/heap"
	"strings"

	"github.com/mzt-dev/mzt/messages"
)

// dagIndex keeps what scheduling needs so that each event costs what it
// touches, not the size of the job: a 10,000-sheet job has ~30,000 events.
type dagIndex struct {
	dependents [][]int // by sheet index: the sheets that wait for it
	remaining  []int   // by sheet index: dependencies not yet completed
	ready      readyHeap
	inReady    []bool
	waiting    map[int]struct{}            // sheets in backoff or a rate-limit wait
	cascade    []int                       // sheets that ended without completing: skip what depends on them
	counts     map[messages.SheetState]int // sheets by status
	requested  int                         // slot requests in flight
	stageUses  []bool                      // by stage index: its templates read .Prev
	stageRange [][2]int                    // by stage index: its sheets' indices [from, to)
}

// buildIndex (re)computes the index from the sheets' current statuses.
func (j *jobActor) buildIndex() {
	n := len(j.sheets)
	x := dagIndex{
		dependents: make([][]int, n), remaining: make([]int, n), inReady: make([]bool, n),
		waiting: map[int]struct{}{}, counts: map[messages.SheetState]int{},
		stageUses: make([]bool, len(j.sc.Stages)), stageRange: make([][2]int, len(j.sc.Stages)),
	}
	for i, s := range j.sheets {
		x.counts[s.row.Status]++
		for _, d := range s.sh.Deps {
			x.dependents[d-1] = append(x.dependents[d-1], i)
			if j.sheets[d-1].row.Status != messages.SheetCompleted {
				x.remaining[i]++
			}
		}
		if s.row.Status == messages.SheetWaiting {
			x.waiting[i] = struct{}{}
		}
		switch s.row.Status {
		case messages.SheetFailed, messages.SheetSkipped, messages.SheetCancelled:
			x.cascade = append(x.cascade, i)
		}
		r := &x.stageRange[s.sh.StageIndex]
		if r[1] == 0 {
			r[0] = i
		}
		r[1] = i + 1
	}
	for i, st := range j.sc.Stages {
		text := st.PromptText
		for _, v := range st.Validate {
			text += v.Path + v.Pattern + v.Contains + v.Run
		}
		x.stageUses[i] = strings.Contains(text, ".Prev")
	}
	j.idx = x
	for i := range j.sheets {
		j.sheets[i].requested = false
		j.maybeReady(i)
	}
}

// setStatus is the only way a sheet's status changes, so that the index
// never disagrees with the sheets.
func (j *jobActor) setStatus(s *sheetState, status messages.SheetState) {
	old := s.row.Status
	if old == status {
		return
	}
	i := s.row.Num - 1
	j.idx.counts[old]--
	j.idx.counts[status]++
	s.row.Status = status
	if status == messages.SheetWaiting {
		j.idx.waiting[i] = struct{}{}
	} else {
		delete(j.idx.waiting, i)
	}
	switch status {
	case messages.SheetCompleted:
		for _, d := range j.idx.dependents[i] {
			j.idx.remaining[d]--
			j.maybeReady(d)
		}
	case messages.SheetFailed, messages.SheetSkipped, messages.SheetCancelled:
		j.idx.cascade = append(j.idx.cascade, i)
	case messages.SheetPending:
		j.maybeReady(i)
	}
}

func (j *jobActor) maybeReady(i int) {
	s := j.sheets[i]
	if s.row.Status == messages.SheetPending && j.idx.remaining[i] == 0 && !s.requested && !j.idx.inReady[i] {
		j.idx.inReady[i] = true
		heap.Push(&j.idx.ready, i)
	}
}

// clearRequests forgets slot requests the manager was told to drop; the
// sheets go back to the ready queue.
func (j *jobActor) clearRequests() {
	for i, s := range j.sheets {
		if s.requested {
			s.requested = false
			j.maybeReady(i)
		}
	}
	j.idx.requested = 0
}

// readyHeap orders ready sheets by number: lower sheets start first.
type readyHeap []int

func (h readyHeap) Len() int           { return len(h) }
func (h readyHeap) Less(a, b int) bool { return h[a] < h[b] }
func (h readyHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *readyHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *readyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
