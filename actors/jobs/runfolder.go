package jobs

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/tryjournal"
	"github.com/mzt-dev/mzt/messages"
)

// prepareRunFolder makes the run's log folder and try journal as soon as
// the job exists, off the mailbox, while it waits in the queue: with few
// slots and short sheets, a job's time from admission to its process start
// is on every next job's path, and creating them there cost as much as the
// supervisor's whole start. Nothing depends on it having happened: a try
// that starts first makes them itself, and one that fails here is retried
// by the try, which reports the error.
func (j *jobActor) prepareRunFolder(ctx actor.Context) {
	if j.finished || j.set.logDir == "" {
		return
	}
	switch j.job.Status {
	case messages.JobQueued, messages.JobRunning, messages.JobPaused:
	default:
		return
	}
	dir, log := j.set.logDir, j.log
	mailbox.Go(ctx.ActorSystem().Root, nil, func() any {
		if err := tryjournal.Prepare(dir); err != nil && log != nil {
			log.Debug("prepare the run's log folder", "err", err)
		}
		return nil
	}, nil)
}
