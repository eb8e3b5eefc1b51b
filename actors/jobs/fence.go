package jobs

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/messages"
)

// FleetFence asks the job manager to stop every running try of these
// fleet jobs, because this member's lease may end soon and the jobs be
// placed on another member: each try's group gets SIGTERM, then SIGKILL
// after its kill grace (at most a sixth of the lease TTL for fleet tries),
// and is recorded as interrupted, using no attempt. The sheets then wait
// for the fence (FenceChanged) like any sheet it holds. Local jobs are
// never named; asking again for a job already stopped does nothing.
type FleetFence struct {
	JobIDs []string
	Reason string
}

// fenceStop tells a job actor to stop its running tries for the fence.
type fenceStop struct{ note string }

// onFleetFence stops the named jobs' tries and moves their queued slot
// requests behind the fence, so that none is granted while it stands.
func (a *Actor) onFleetFence(ctx actor.Context, m *FleetFence) {
	if a.deps.Fleet == nil {
		return
	}
	fenced := make(map[string]bool, len(m.JobIDs))
	for _, id := range m.JobIDs {
		fenced[id] = true
		if e := a.jobs[id]; e != nil && e.pid != nil && e.final == nil {
			ctx.Send(e.pid, &fenceStop{note: m.Reason})
		}
	}
	kept := a.slots.waiters[:0]
	for _, w := range a.slots.waiters {
		if !fenced[w.jobID] || a.deps.Fleet.Allowed(w.jobID) {
			kept = append(kept, w)
			continue
		}
		if a.held == nil {
			a.held = fenceHeld{}
		}
		a.held[w.jobID] = append(a.held[w.jobID], w)
		ctx.Send(w.job, &slotWaiting{num: w.num, reason: a.deps.Fleet.FenceReason(w.jobID)})
	}
	clear(a.slots.waiters[len(kept):])
	a.slots.waiters = kept
}

// fenceSheets stops the job's running tries for the fence (job actor): each
// ends as interrupted, its sheet pending again with no attempt used, and
// its notes say why. A try already being stopped keeps its first reason.
func (j *jobActor) fenceSheets(ctx actor.Context, m *fenceStop) {
	for _, s := range j.sheets {
		if s.row.Status != messages.SheetRunning || (s.cancel == nil && s.launch == nil) || s.stopWhy != stopNone {
			continue
		}
		j.log.Warn("fleet fence: stopping a sheet", "sheet", s.row.Num, "try", s.row.Tries, "why", m.note)
		s.stopWhy = stopFence
		s.row.Notes = append(s.row.Notes, m.note)
		if len(s.row.Notes) > maxNotes {
			s.row.Notes = s.row.Notes[len(s.row.Notes)-maxNotes:]
		}
		ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: eventFleet, JobId: j.job.JobID, Sheet: int64(s.row.Num),
			Attempt: int64(s.row.Tries), Stage: s.row.Stage, Status: "fenced", Detail: m.note})
		j.persist(ctx, nil, s)
		if s.cancel != nil {
			s.cancel()
		}
	}
}

// eventFleet is the kind of a job's fleet events (the fleet actor
// publishes the others: placed, placed again, abandoned).
const eventFleet = "fleet"
