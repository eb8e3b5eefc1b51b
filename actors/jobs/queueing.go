package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/messages"
)

// queueControls are a job's place in the queue: its priority and group and
// the jobs it runs after.
type queueControls struct {
	priority int64
	group    string
	after    []string
	afterAny bool
	settled  bool // the jobs it runs after finished (or it was cancelled for them)
	doomed   bool // cancelled for them: it never takes a slot
}

func controlsOf(j store.JobRow) queueControls {
	return queueControls{priority: int64(j.Priority), group: j.Group, after: j.After, afterAny: j.AfterAny,
		settled: len(j.After) == 0 || !j.StartedAt.IsZero()}
}

// queueState is what the manager knows beyond its live jobs: the groups,
// and the outcome of finished jobs that queued jobs run after.
type queueState struct {
	loaded   bool
	groups   map[string]int
	outcomes map[string]messages.JobState
	parked   []*parsed // submissions that arrived before the groups were read
	// finished is the outcome of the jobs that finished lately, whoever
	// waits for them: a job submitted with --after while the job it runs
	// after finishes is not yet among the live jobs when that job leaves,
	// and the store read at its parse may be older than the finish.
	finished      map[string]messages.JobState
	finishedOrder []string // oldest first, for the bound
	// parkedGroups are group requests that arrived before the groups were read.
	parkedGroups []parkedGroup
}

// maxFinishedOutcomes bounds queueState.finished.
const maxFinishedOutcomes = 4096

type queueLoaded struct {
	groups []store.Group
	states map[string]messages.JobState
	err    error
}

// depsSettled tells a job that the jobs it runs after finished.
type depsSettled struct{}

// depsFailed cancels a job because a job it runs after did not complete.
type depsFailed struct{ reason string }

// loadQueue reads the groups, and the outcome of every job that a live job
// runs after, off the mailbox; admission waits for them.
func (a *Actor) loadQueue(ctx actor.Context) {
	a.queue.groups, a.queue.outcomes = map[string]int{}, map[string]messages.JobState{}
	if a.deps.DB == nil {
		a.queue.loaded = true
		return
	}
	var ids []string
	for _, e := range a.jobs {
		ids = append(ids, e.queue.after...)
	}
	db := a.deps.DB
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out := &queueLoaded{}
		if out.groups, out.err = db.Groups(qctx); out.err == nil {
			out.states, out.err = db.JobStates(qctx, ids)
		}
		return out
	}, func(err error) any { return &queueLoaded{err: fmt.Errorf("load groups: %w", err)} })
}

func (a *Actor) onQueueLoaded(ctx actor.Context, m *queueLoaded) {
	if m.err != nil {
		// Without them every group runs unlimited: better than no admission.
		a.log.Error("read job groups and dependencies from the store", "err", m.err)
	}
	for _, g := range m.groups {
		a.queue.groups[g.Name] = g.Parallel
	}
	for id, st := range m.states {
		a.queue.outcomes[id] = st
	}
	a.queue.loaded = true
	parked := a.queue.parked
	a.queue.parked = nil
	for _, p := range parked {
		a.onParsed(ctx, p)
	}
	for _, p := range a.queue.parkedGroups {
		ctx.RequestWithCustomSender(ctx.Self(), p.req, p.sender)
	}
	a.queue.parkedGroups = nil
	a.admitNext(ctx)
}

// depState is the latest status of a job some queued job runs after.
func (a *Actor) depState(id string) (messages.JobState, bool) {
	if e := a.jobs[id]; e != nil {
		return e.info.State(), true
	}
	if st, ok := a.queue.outcomes[id]; ok {
		return st, ok
	}
	st, ok := a.queue.finished[id]
	return st, ok
}

// rememberDepStates keeps the states a submission's dependencies had in
// the store when it was parsed, for those that are not live; an outcome
// seen since is newer than that read and wins.
func (a *Actor) rememberDepStates(states map[string]messages.JobState) {
	for id, st := range states {
		if a.jobs[id] != nil {
			continue
		}
		if fin, ok := a.queue.finished[id]; ok {
			st = fin
		}
		a.queue.outcomes[id] = st
	}
}

// noteOutcome keeps a finished job's status while a queued job runs after
// it, and among the recent outcomes in any case.
func (a *Actor) noteOutcome(id string, st messages.JobState) {
	if a.queue.finished == nil {
		a.queue.finished = map[string]messages.JobState{}
	}
	if _, ok := a.queue.finished[id]; !ok {
		a.queue.finishedOrder = append(a.queue.finishedOrder, id)
		if len(a.queue.finishedOrder) > maxFinishedOutcomes {
			delete(a.queue.finished, a.queue.finishedOrder[0])
			a.queue.finishedOrder = a.queue.finishedOrder[1:]
		}
	}
	a.queue.finished[id] = st
	for _, e := range a.jobs {
		if !e.queue.settled && contains(e.queue.after, id) {
			a.queue.outcomes[id] = st
			return
		}
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// settleDeps releases or cancels queued jobs whose dependencies finished;
// it reports which still wait.
func (a *Actor) settleDeps(ctx actor.Context, e *entry) (waiting bool) {
	if e.queue.settled {
		return e.queue.doomed
	}
	wait, cancel := depVerdict(e.queue.after, e.queue.afterAny, a.depState)
	switch {
	case cancel != "":
		e.queue.settled, e.queue.doomed = true, true
		ctx.Send(e.pid, &depsFailed{reason: "cancelled: " + cancel})
		return true
	case len(wait) > 0:
		return true
	}
	e.queue.settled = true
	ctx.Send(e.pid, &depsSettled{})
	a.forgetOutcomes()
	return false
}

// forgetOutcomes drops outcomes no queued job waits for any more.
func (a *Actor) forgetOutcomes() {
	for id := range a.queue.outcomes {
		needed := false
		for _, e := range a.jobs {
			if !e.queue.settled && contains(e.queue.after, id) {
				needed = true
				break
			}
		}
		if !needed {
			delete(a.queue.outcomes, id)
		}
	}
}

// checkQueueRequest refuses a submission whose dependencies are unknown or
// would wait on itself, or whose group does not exist.
func (a *Actor) checkQueueRequest(id string, req *messages.SubmitJobRequest, stored map[string]messages.JobState) *messages.Error {
	invalid := func(hint, format string, args ...any) *messages.Error {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, hint, format, args...)
	}
	if g := req.GetGroup(); g != "" {
		if _, ok := a.queue.groups[g]; !ok {
			return invalid("mzt group add "+g+" --parallel N", "group %s does not exist", g)
		}
	}
	for _, d := range req.GetAfter() {
		if _, live := a.jobs[d]; live || d == id {
			continue
		}
		if _, ok := stored[d]; !ok {
			return invalid("mzt list --all", "job %s to run after is unknown", d)
		}
	}
	cycle := dependencyCycle(id, req.GetAfter(), func(d string) []string {
		if e := a.jobs[d]; e != nil && !e.queue.settled {
			return e.queue.after
		}
		return nil
	})
	if cycle != nil {
		return invalid("", "dependency cycle: %s", strings.Join(cycle, " -> "))
	}
	return nil
}

// candidates are the queued jobs, with the slots already taken.
func (a *Actor) candidates(ctx actor.Context) ([]candidate, queueLimits) {
	lim := queueLimits{maxJobs: a.cfg.MaxConcurrentJobs, groupLimit: a.queue.groups, groupRunning: map[string]int{}}
	var q []candidate
	for id, e := range a.jobs {
		if e.admitted {
			if e.info.State() == messages.JobRunning {
				lim.running++
				lim.groupRunning[e.queue.group]++
			}
			continue
		}
		q = append(q, candidate{id: id, priority: e.queue.priority, seq: e.seq, group: e.queue.group,
			paused: e.info.GetUserPaused(), waiting: a.settleDeps(ctx, e)})
	}
	return q, lim
}

// waitingFor is what a queued job shows while the jobs it runs after have
// not finished.
func (j *jobActor) waitingFor() []string {
	if j.depsDone || j.admitted || !j.job.StartedAt.IsZero() {
		return nil
	}
	return j.job.After
}

func (j *jobActor) onDepsSettled(ctx actor.Context) {
	j.depsDone = true
	j.publish(ctx)
}

// onDepsFailed cancels the job, as the user would, with the reason.
func (j *jobActor) onDepsFailed(ctx actor.Context, m *depsFailed) {
	j.depsDone, j.cancelling, j.cancelReason = true, true, m.reason
	j.clearRequests()
	j.stopRunning(stopCancel)
	j.setJobStatus()
	j.persist(ctx, nil)
	j.schedule(ctx)
}
