package jobs

import (
	"log/slog"
	"os"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
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
	j.set.prep.ask(prepRequest{dir: j.set.logDir, logs: logs})
}

// runPrep makes run folders ahead of their first try, one at a time, for
// every job of the conductor: a batch of 10,000 submitted jobs (or as many
// recovered at a start) asks as many times at once, and a goroutine each,
// blocked in file creation, would each hold a thread. Requests beyond its
// queue are dropped: preparing is only a head start.
type runPrep struct {
	reqs    chan prepRequest
	quit    chan struct{}
	done    chan struct{}
	stopped sync.Once
	log     *slog.Logger
}

type prepRequest struct {
	dir  string
	logs []string
}

// prepQueue bounds the run folders waiting to be made.
const prepQueue = 4096

func startRunPrep(log *slog.Logger) *runPrep {
	p := &runPrep{reqs: make(chan prepRequest, prepQueue), quit: make(chan struct{}), done: make(chan struct{}), log: log}
	go p.loop()
	return p
}

// ask queues r, or drops it when the queue is full or p is nil.
func (p *runPrep) ask(r prepRequest) {
	if p == nil {
		return
	}
	select {
	case p.reqs <- r:
	default:
	}
}

// stop ends the worker; asks after it are dropped with the queue.
func (p *runPrep) stop() {
	if p == nil {
		return
	}
	p.stopped.Do(func() { close(p.quit) })
	<-p.done
}

func (p *runPrep) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.quit:
			return
		case r := <-p.reqs:
			p.prepare(r)
		}
	}
}

func (p *runPrep) prepare(r prepRequest) {
	defer func() {
		if v := recover(); v != nil && p.log != nil {
			p.log.Error("preparing a run's log folder panicked", "panic", v)
		}
	}()
	if err := tryjournal.Prepare(r.dir); err != nil {
		if p.log != nil {
			p.log.Debug("prepare the run's log folder", "err", err)
		}
		return
	}
	createMissing(r.logs)
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
