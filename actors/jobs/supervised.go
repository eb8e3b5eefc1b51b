package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/internal/tryjournal"
)

// A try the supervisor forks outlives this conductor: the conductor asks
// the supervisor to start it, to stop it (cancel, timeout, stall, preempt)
// and to tell when it ended; a restart, an upgrade or a crash of the
// conductor leaves it running, and the next conductor adopts it. The
// supervisor writes the exit file itself, so no exit-code wrapper (and no
// second exec per try) is needed.

// errSupervisorLost marks a try whose supervisor died under it: its fate is
// unknown, so it is handled as an interrupted try (killed by its recorded
// identity, run again without using an attempt).
var errSupervisorLost = errors.New("the supervisor holding this try died")

// errHandedOver marks a try left running for the next conductor.
var errHandedOver = errors.New("left running for the next conductor")

// orphanDeadlines is what a fleet membership tells of a job: how long its
// try may outlive this conductor (0: as long as it likes).
type orphanDeadlines interface {
	OrphanDeadline(jobID string) time.Duration
}

// orphanDeadlineOf is f's orphan deadline per job, or nil (no fleet).
func orphanDeadlineOf(f Fleet) func(jobID string) time.Duration {
	if o, ok := f.(orphanDeadlines); ok {
		return o.OrphanDeadline
	}
	return nil
}

// orphanGuard is what a try asks of its supervisor for when this conductor
// is gone: stop it after `after` (0: never), with grace before SIGKILL.
type orphanGuard struct {
	after, grace time.Duration
}

// newOrphanGuard bounds the try's kill grace by half the deadline: the try
// must be dead, not just signalled, before its job can be placed elsewhere.
func newOrphanGuard(after, killGrace time.Duration) orphanGuard {
	if after <= 0 {
		return orphanGuard{}
	}
	if killGrace <= 0 {
		killGrace = sheetrun.DefaultKillGrace
	}
	return orphanGuard{after: after, grace: max(min(killGrace, after/2), time.Millisecond)}
}

// runSupervised starts spec through the supervisor and waits for its end as
// sheetrun.Run would. ok is false when the supervisor could not be asked at
// all, or cannot honour the try's orphan guard (the caller then runs the try
// itself).
func runSupervised(ctx context.Context, own *supervisor.Client, spec sheetrun.Spec, token, exitPath, cgroupDir string,
	handover <-chan struct{}, guard orphanGuard, log *slog.Logger) (res sheetrun.Result, ok bool) {
	// The conductor's supervisor may be replaced (it died): this try is
	// started, stopped and waited for through the one current now.
	pinned, err := own.Current()
	if err != nil {
		return res, false // none: the conductor runs it itself
	}
	if guard.after > 0 && !pinned.GuardsOrphans() {
		// It would keep the try running after this conductor died, while
		// the job is placed on another member: the job would run twice.
		if log != nil {
			log.Warn("the supervisor cannot stop a fleet job's try if this conductor dies: running it in the conductor",
				"try", token, "supervisor_protocol", pinned.V)
		}
		return res, false
	}
	sup := &pinned
	res.ExitCode = -1
	if ctx.Err() != nil {
		res.Canceled = true
		return res, true
	}
	res.Started = time.Now()
	try := supervisor.TrySpec{Token: token, Argv: spec.Argv, Env: spec.Env, Dir: spec.Dir, Stdin: spec.Stdin,
		StdoutPath: spec.StdoutPath, StderrPath: spec.StderrPath, ExitPath: exitPath, CgroupDir: cgroupDir,
		ExitJournal:   filepath.Join(filepath.Dir(exitPath), tryjournal.Name),
		StartedUnixMS: res.Started.UnixMilli(), TimeoutMS: spec.Timeout.Milliseconds(),
		KillIfOrphanedMS: guard.after.Milliseconds(), OrphanGraceMS: guard.grace.Milliseconds()}
	proc, running, err := sup.Run(ctx, try)
	if err != nil {
		if !errors.Is(err, supervisor.ErrRefused) {
			return res, false // no supervisor answers
		}
		res.Err, res.Ended = err, time.Now()
		return res, true
	}
	p := sheetrun.Proc{PID: proc.PID, PGID: proc.PGID, StartTicks: proc.StartTicks}
	if spec.Started != nil {
		if err := callHook(spec.Started, p); err != nil {
			// Whoever should have recorded it does not know it: do not let it run unseen.
			_ = sup.Stop(context.Background(), token, 0)
			_, _ = running.Wait(context.Background())
			res.Err, res.Ended = err, time.Now()
			return res, true
		}
	}
	w := supervisedWait{sup: sup, token: token, proc: p, timeout: spec.Timeout, grace: spec.KillGrace,
		logCap: spec.LogCap, capped: spec.CappedLogs, success: spec.SuccessCodes, handover: handover, running: running}
	return w.wait(ctx, res), true
}

// supervisedWait follows a try held by a supervisor to its end: started
// here, or adopted from a previous conductor.
type supervisedWait struct {
	sup     *supervisor.Client
	token   string
	proc    sheetrun.Proc
	timeout time.Duration // from res.Started
	grace   time.Duration
	logCap  int64
	capped  []string
	success []int
	// handover closes when the conductor leaves: the try runs on unwatched.
	handover <-chan struct{}
	// running, when set, is the connection the try was started on, held
	// for its end (nil: an adopted try, waited for on a new connection).
	running *supervisor.Running
}

// wait returns res completed with the end of the try (named: the log cap's
// notes are added on the way out).
func (w supervisedWait) wait(ctx context.Context, start sheetrun.Result) (res sheetrun.Result) {
	res = start
	if w.logCap > 0 && len(w.capped) > 0 {
		stop := sheetrun.CapLogs(w.logCap, w.capped)
		defer func() { res.Notes = append(res.Notes, stop()...) }()
	}
	grace := w.grace
	if grace <= 0 {
		grace = sheetrun.DefaultKillGrace
	}
	waitCtx, cancelWait := context.WithCancel(context.Background())
	defer cancelWait()
	type ended struct {
		exit supervisor.Exit
		err  error
	}
	done := make(chan ended, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- ended{err: fmt.Errorf("waiting on the supervisor panicked: %v", r)}
			}
		}()
		var ex supervisor.Exit
		var err error
		if w.running != nil {
			ex, err = w.running.Wait(waitCtx)
		} else {
			ex, err = w.sup.Wait(waitCtx, w.token)
		}
		done <- ended{ex, err}
	}()
	var timeout <-chan time.Time
	if w.timeout > 0 {
		left := time.Until(res.Started.Add(w.timeout))
		t := time.NewTimer(max(left, 0))
		defer t.Stop()
		timeout = t.C
	}
	stop := func() {
		if err := w.sup.Stop(context.Background(), w.token, grace); err != nil {
			_ = sheetrun.KillGroup(w.proc.PGID, grace) // the supervisor is gone: stop it ourselves
		}
	}
	var e ended
	select {
	case <-w.handover:
		res.Err, res.Ended = errHandedOver, time.Time{}
		return res
	case e = <-done:
	case <-ctx.Done():
		select {
		case <-w.handover: // the job stops because the conductor leaves: not a cancel
			res.Err, res.Ended = errHandedOver, time.Time{}
			return res
		default:
		}
		res.Canceled = true
		stop()
		e = <-done
	case <-timeout:
		res.TimedOut = true
		stop()
		e = <-done
	}
	res.Ended = time.Now()
	if e.err != nil {
		// As crash recovery would: what is left of it dies, found by its
		// recorded identity (a reused pid is left alone).
		if ticks, err := sheetrun.ProcStartTicks(w.proc.PID); err == nil && ticks == w.proc.StartTicks {
			_ = sheetrun.KillGroup(w.proc.PGID, grace)
		}
		res.Err = fmt.Errorf("%w: %v", errSupervisorLost, e.err)
		return res
	}
	res.ExitCode, res.Signal = e.exit.Code, e.exit.Signal
	if e.exit.EndedMS > 0 {
		res.Ended = time.UnixMilli(e.exit.EndedMS)
	}
	res.Success = !res.TimedOut && !res.Canceled && res.Signal == "" &&
		slices.Contains(successCodes(w.success), res.ExitCode)
	return res
}

// callHook runs the started hook, turning its panic into an error.
func callHook(f func(sheetrun.Proc), p sheetrun.Proc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("started hook panicked: %v", r)
		}
	}()
	f(p)
	return nil
}

// isClosed reports whether c is closed (nil: never).
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return c != nil
	default:
		return false
	}
}
