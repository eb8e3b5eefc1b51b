package jobs

import (
	"os"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/tryjournal"
	"github.com/mzt-dev/mzt/messages"
)

// maxEarlyLogs bounds the sheets whose first try's log files a job creates
// while it is queued: a one-sheet job (a queue of short commands) gains
// the most, and a 10,000-sheet job must not create 20,000 files up front.
const maxEarlyLogs = 16

// prepareRunFolder makes the run's log folder and try journal as soon as
// the job exists, off the mailbox, while it waits in the queue, and the
// empty stdout and stderr files of the first try of its first pending
// sheets. With few slots and short sheets, a job's time from admission to
// its process start is on every next job's path, and creating a folder and
// files there (up to a millisecond each on a busy ext4) cost as much as the
// supervisor's whole start; opening a file that exists costs little.
//
// Nothing depends on it having happened: a try that starts first creates
// what is missing itself, and an error here comes back there. The files
// are never truncated here (the supervisor truncates them when the try
// starts); a sheet that never runs keeps its empty ones, which nothing
// reads: logs follow the tries the sheet's row counts.
func (j *jobActor) prepareRunFolder(ctx actor.Context) {
	if j.finished || j.set.logDir == "" {
		return
	}
	switch j.job.Status {
	case messages.JobQueued, messages.JobRunning, messages.JobPaused:
	default:
		return
	}
	var logs []string
	for _, s := range j.sheets {
		if len(logs) == 2*maxEarlyLogs {
			break
		}
		if s.row.Status == messages.SheetPending && s.row.Tries == 0 {
			out, errPath := attemptPaths(j.set.logDir, s.row.Num, 1)
			logs = append(logs, out, errPath)
		}
	}
	dir, log := j.set.logDir, j.log
	mailbox.Go(ctx.ActorSystem().Root, nil, func() any {
		if err := tryjournal.Prepare(dir); err != nil {
			if log != nil {
				log.Debug("prepare the run's log folder", "err", err)
			}
			return nil
		}
		createMissing(logs)
		return nil
	}, nil)
}

// createMissing creates each file that does not exist, empty, and leaves
// the others as they are: it may run after the try has started writing.
func createMissing(paths []string) {
	for _, p := range paths {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
			f.Close()
		}
	}
}
