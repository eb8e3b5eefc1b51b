package jobs

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/messages"
)

// Events are published on the actor system's event stream; the daemon's event
// log numbers, stores and serves them. Publishing never blocks.

// emitJob publishes the job's status when it changed since the last event.
func (j *jobActor) emitJob(ctx actor.Context) {
	if j.job.Status == j.lastEvent {
		return
	}
	j.lastEvent = j.job.Status
	ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: string(messages.EventJobStatus), JobId: j.job.JobID,
		Status: string(j.job.Status), Detail: j.job.Error})
}

// emitSheets publishes the sheets whose status changed since their last event.
func (j *jobActor) emitSheets(ctx actor.Context, sheets []*sheetState) {
	for _, s := range sheets {
		if s.row.Status == s.lastEvent {
			continue
		}
		s.lastEvent = s.row.Status
		detail := s.row.Error
		if s.row.Status == messages.SheetRunning {
			detail = fmt.Sprintf("try %d", s.row.Tries)
		}
		ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: string(messages.EventSheetStatus), JobId: j.job.JobID,
			Sheet: int64(s.row.Num), Attempt: int64(s.row.Tries), Stage: s.row.Stage, Status: string(s.row.Status),
			Detail: detail})
	}
}
