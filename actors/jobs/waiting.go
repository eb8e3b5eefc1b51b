package jobs

import (
	"fmt"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/messages"
)

// Why a sheet that does not run waits, in the words status, top and JSON
// show (waiting_reason). Reasons are worked out from the current state
// whenever they are asked for, so one that no longer holds is never shown.

// clock is a wait's end as status shows it.
func clock(t time.Time) string { return t.UTC().Format("15:04:05Z") }

// explainWaits fills in waiting_reason for every pending or waiting sheet.
func (j *jobActor) explainWaits(infos []*messages.SheetInfo, now time.Time) {
	inFlight := j.running() + j.idx.requested
	for i, info := range infos {
		if i < len(j.sheets) {
			info.WaitingReason = j.waitingReason(i, inFlight, now)
		}
	}
}

func (j *jobActor) waitingReason(i, inFlight int, now time.Time) string {
	s := j.sheets[i]
	switch s.row.Status {
	case messages.SheetWaiting:
		if s.waitWhy != "" {
			return s.waitWhy
		}
		if !s.row.WaitingUntil.IsZero() {
			return "waiting until " + clock(s.row.WaitingUntil)
		}
		return ""
	case messages.SheetPending:
	default:
		return ""
	}
	switch {
	case j.idx.remaining != nil && j.idx.remaining[i] > 0:
		return "dependencies: " + j.unfinishedDeps(s)
	case j.job.UserPaused:
		return "job paused"
	case !j.admitted:
		return "job queued (max_concurrent_jobs)"
	case s.requested && s.slotWhy != "":
		return s.slotWhy
	case s.requested:
		return "waiting for a conductor slot"
	case inFlight >= j.sc.MaxParallel:
		return fmt.Sprintf("job max_parallel (%d) reached", j.sc.MaxParallel)
	}
	return ""
}

// unfinishedDeps names the stages a sheet depends on that have not all
// completed.
func (j *jobActor) unfinishedDeps(s *sheetState) string {
	var names []string
	for _, dep := range s.sh.Stage.DependsOn {
		for k, st := range j.sc.Stages {
			if st.ID != dep || k >= len(j.idx.stageRange) {
				continue
			}
			r := j.idx.stageRange[k]
			for x := r[0]; x < r[1]; x++ {
				if j.sheets[x].row.Status != messages.SheetCompleted {
					names = append(names, "stage "+dep)
					break
				}
			}
		}
	}
	if len(names) == 0 {
		return "earlier sheets"
	}
	return strings.Join(names, ", ")
}

// slotWaitReason is why a waiter is not granted a slot in this round, or ""
// when nothing but the start gap holds it.
func (s *slots) slotWaitReason(w *slotRequest, now time.Time) string {
	switch {
	case s.pressure >= monitor.High:
		return "resource pressure (" + s.pressure.String() + ")"
	case len(s.held) >= s.maxSheets:
		return fmt.Sprintf("conductor max_concurrent_sheets (%d) reached", s.maxSheets)
	case w.maxConcurrent > 0 && s.perInst[w.instrument] >= w.maxConcurrent:
		return fmt.Sprintf("instrument %s max_concurrent (%d) reached", w.instrument, w.maxConcurrent)
	case now.Before(s.rateUntil[w.instrument]):
		return "instrument " + w.instrument + " is rate limited until " + clock(s.rateUntil[w.instrument]) + seenBy(s.rateBy[w.instrument])
	}
	return ""
}

// slotNote tells a job why its waiting sheet is held.
type slotNote struct {
	grant  slotGrant
	reason string
}

// reasons returns the waiters whose reason changed since they were last
// told, and remembers the new one: a job hears of each change once.
func (s *slots) reasons(now time.Time) []slotNote {
	var out []slotNote
	for _, w := range s.waiters {
		if r := s.slotWaitReason(w, now); r != w.reason {
			w.reason = r
			out = append(out, slotNote{grant: slotGrant{job: w.job, num: w.num}, reason: r})
		}
	}
	return out
}
