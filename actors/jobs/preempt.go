package jobs

import (
	"fmt"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/messages"
)

// Under critical pressure the conductor stops the running sheet that uses
// the largest share of the limit that is critical: the culprit, not a
// bystander. It keeps doing so after every sample while pressure stays
// critical. The youngest sheet is only the tie-breaker (all shares equal,
// e.g. unmeasured).
//
// Damping: a sheet preempted preemptLimit times within preemptWindow is not
// preempted again; the next candidate is chosen. Without it one sheet that
// restarts as soon as pressure falls was stopped and restarted every few
// seconds without end, spending the same work over and over.

const (
	preemptWindow = 10 * time.Minute
	preemptLimit  = 2
)

// preemptCandidate is one running try as preemption sees it.
type preemptCandidate struct {
	JobID     string
	Num       int
	Job       *actor.PID
	GrantedAt time.Time
	MemoryMB  float64
	Processes int
	// Recent is how many times this sheet was preempted within preemptWindow.
	Recent int
}

// preemptChoice is the try to stop and why, in words for the log and notes.
type preemptChoice struct {
	preemptCandidate
	Note string
}

// pickPreemption chooses which try to stop under critical pressure: the
// largest share of whichever limit is the more used (memory or processes);
// on a tie the youngest. Sheets preempted preemptLimit times within
// preemptWindow are passed over; when only such sheets run, none is chosen.
func pickPreemption(all []preemptCandidate, u monitor.Usage) (preemptChoice, bool) {
	cands := make([]preemptCandidate, 0, len(all))
	for _, c := range all {
		if c.Recent < preemptLimit {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return preemptChoice{}, false
	}
	byProcs := u.ProcessPercent() > u.MemoryPercent()
	share := func(c preemptCandidate) float64 {
		if byProcs {
			return float64(c.Processes)
		}
		return c.MemoryMB
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if s, b := share(c), share(best); s > b || s == b && c.GrantedAt.After(best.GrantedAt) {
			best = c
		}
	}
	var what string
	if byProcs {
		what = fmt.Sprintf("%s processes, %.0f%% of max_processes", thousands(best.Processes),
			percentOf(float64(best.Processes), float64(u.ProcessLimit)))
	} else {
		what = fmt.Sprintf("%s MB, %.0f%% of max_memory_mb", thousands(int(best.MemoryMB+0.5)),
			percentOf(best.MemoryMB, u.MemoryLimitMB))
	}
	if share(best) == 0 {
		what = "the youngest running sheet (no sheet's use is measured yet)"
	}
	return preemptChoice{preemptCandidate: best,
		Note: fmt.Sprintf("sheet %d of job %s preempted: %s", best.Num, best.JobID, what)}, true
}

func percentOf(v, limit float64) float64 {
	if limit <= 0 {
		return 0
	}
	return 100 * v / limit
}

// thousands writes n with comma separators: 4812 -> "4,812".
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// preemptCandidates joins the held slots with the monitor's per-try
// reading: a try is matched by its leader's PID.
func (a *Actor) preemptCandidates(u monitor.Usage) []preemptCandidate {
	byLeader := make(map[int]monitor.Unit, len(u.Units))
	for _, unit := range u.Units {
		byLeader[unit.Leader] = unit
	}
	out := make([]preemptCandidate, 0, len(a.slots.held))
	for k, h := range a.slots.held {
		c := preemptCandidate{JobID: k.jobID, Num: k.num, Job: h.job, GrantedAt: h.grantedAt,
			Recent: len(a.preempted[k])}
		if r := a.running[k]; r != nil && r.PID > 0 {
			if unit, ok := byLeader[r.PID]; ok {
				c.MemoryMB, c.Processes = float64(unit.MemoryBytes)/(1<<20), unit.Processes
			}
		}
		out = append(out, c)
	}
	return out
}

// preemptCulprit stops the try pickPreemption chooses (manager). Asking
// again for a try that is already stopping does nothing, so a culprit that
// takes its kill_grace to die is not joined by a bystander meanwhile.
func (a *Actor) preemptCulprit(ctx actor.Context, u monitor.Usage) {
	now := time.Now()
	a.forgetPreemptions(now)
	if choice, ok := pickPreemption(a.preemptCandidates(u), u); ok {
		a.recordPreemption(slotKey{choice.JobID, choice.Num}, choice.GrantedAt, now)
		ctx.Send(choice.Job, &preempt{num: choice.Num, note: choice.Note})
	}
}

// preemptMark is one preemption of a sheet: when, and which try (by the time
// its slot was granted, new for every try).
type preemptMark struct{ at, granted time.Time }

// recordPreemption remembers a preemption for damping; asking again for the
// same try (it takes its kill_grace to die) is the same preemption.
func (a *Actor) recordPreemption(k slotKey, granted, now time.Time) {
	if a.preempted == nil {
		a.preempted = map[slotKey][]preemptMark{}
	}
	marks := a.preempted[k]
	if n := len(marks); n > 0 && marks[n-1].granted.Equal(granted) {
		return
	}
	a.preempted[k] = append(marks, preemptMark{at: now, granted: granted})
}

// forgetPreemptions drops marks older than preemptWindow, so the history
// stays as small as the sheets preempted lately.
func (a *Actor) forgetPreemptions(now time.Time) {
	for k, marks := range a.preempted {
		i := 0
		for i < len(marks) && now.Sub(marks[i].at) > preemptWindow {
			i++
		}
		if i == len(marks) {
			delete(a.preempted, k)
		} else {
			a.preempted[k] = marks[i:]
		}
	}
}

// preemptSheet stops one running try for the manager (job actor): it is
// requeued without using an attempt, with the reason in its notes.
func (j *jobActor) preemptSheet(ctx actor.Context, m *preempt) {
	if m.num < 1 || m.num > len(j.sheets) {
		return
	}
	s := j.sheets[m.num-1]
	if s.row.Status != messages.SheetRunning || s.cancel == nil || s.stopWhy != stopNone {
		return
	}
	j.log.Warn("critical pressure: stopping a sheet", "sheet", m.num, "try", s.row.Tries, "why", m.note)
	s.stopWhy = stopPreempt
	s.row.Notes = append(s.row.Notes, m.note)
	if len(s.row.Notes) > maxNotes {
		s.row.Notes = s.row.Notes[len(s.row.Notes)-maxNotes:]
	}
	ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: string(messages.EventPreempt), JobId: j.job.JobID, Sheet: int64(m.num),
		Attempt: int64(s.row.Tries), Stage: s.row.Stage, Status: "preempted", Detail: m.note})
	j.persist(ctx, nil, s)
	s.cancel()
}
