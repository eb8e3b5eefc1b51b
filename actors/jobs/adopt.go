package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

// AdoptedTry is a try a supervisor of this home still runs, left by a
// previous conductor (restart, upgrade, crash): it is followed to its end
// instead of being killed and run again.
type AdoptedTry struct {
	Sup        supervisor.Client
	SupPID     int
	SupVersion string
	Proc       sheetrun.Proc
	Started    time.Time
}

// Adoptable maps a try's token to the live try a supervisor holds.
type Adoptable map[string]AdoptedTry

// FindAdoptable claims every supervisor of the home (its sockets in dir)
// for the conductor of generation gen and lists its live tries: from then
// on a start still in flight from an earlier conductor is refused, so what
// is listed is all that runs. A supervisor that refuses (a protocol version
// this conductor does not speak) is named in the log with the reason; its
// tries are then recovered as after a crash (killed by their recorded
// identity, run again with no attempt used).
func FindAdoptable(ctx context.Context, dir string, gen uint64, log *slog.Logger) Adoptable {
	out := Adoptable{}
	for _, f := range supervisor.FindClaiming(ctx, dir, gen) {
		if f.Err != nil {
			log.Warn("a supervisor left by an earlier conductor cannot be adopted; its sheets are recovered as after a crash",
				"socket", f.Path, "reason", f.Err)
			continue
		}
		if !f.Fenced() {
			log.Info("adopting from a supervisor of an older protocol version (it cannot refuse a late start of its old conductor)",
				"supervisor", f.Hello.PID, "supervisor_version", f.Hello.Version, "protocol", f.V)
		}
		for _, t := range f.Hello.Tries {
			if t.Exit != nil {
				continue // ended: its exit file settles it
			}
			out[t.Spec.Token] = AdoptedTry{Sup: f.Client, SupPID: f.Hello.PID, SupVersion: f.Hello.Version,
				Proc:    sheetrun.Proc{PID: t.Proc.PID, PGID: t.Proc.PGID, StartTicks: t.Proc.StartTicks},
				Started: time.UnixMilli(t.Spec.StartedUnixMS)}
		}
	}
	return out
}

// tryToken is the identity of a try, planted in its environment and known
// to its supervisor.
func tryToken(runKey string, num, try int) string { return fmt.Sprintf("%s/%d/%d", runKey, num, try) }

// adoptTries follows the tries a previous conductor left with a supervisor:
// timeouts count from their start, cancel and stall stop them through the
// supervisor, and once they end they are judged as any try.
func (j *jobActor) adoptTries(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	for _, s := range j.sheets {
		if s.row.Status != messages.SheetRunning || s.adopted == nil {
			continue
		}
		a := *s.adopted
		s.adopted = nil
		num, try := s.row.Num, s.row.Tries
		runCtx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		in := j.planInput(s, "")
		j.log.Info("adopted a running sheet", "sheet", num, "try", try, "pid", a.Proc.PID,
			"supervisor", a.SupPID, "supervisor_version", a.SupVersion)
		ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: string(messages.EventSheetAdopted),
			JobId: j.job.JobID, Sheet: int64(num), Attempt: int64(try), Stage: s.row.Stage,
			Status: string(s.row.Status), Detail: fmt.Sprintf("pid %d, supervisor %d (mzt %s)", a.Proc.PID, a.SupPID, a.SupVersion)})
		// It runs, so it holds a slot (counted against every limit), as a
		// try started here would.
		ctx.Send(j.mgr, &slotAdopted{jobID: j.job.JobID, num: num, instrument: j.profiles[s.sh.Stage.Instrument].Name, job: self})
		s.holdsSlot = true
		root.Send(self, &attemptStarted{num: num, try: try, proc: a.Proc})
		mailbox.Go(root, self, func() any {
			plan, err := in.render()
			if err != nil {
				cancel()
				return &attemptDone{num: num, try: try, err: err, unrenderable: true}
			}
			out := followAdopted(runCtx, plan, a)
			cancel()
			return out
		}, func(err error) any { cancel(); return &attemptDone{num: num, try: try, err: err} })
	}
}

// followAdopted waits for an adopted try and judges it as runAttempt does.
func followAdopted(ctx context.Context, plan attemptPlan, a AdoptedTry) *attemptDone {
	out := &attemptDone{num: plan.num, try: plan.try}
	if plan.tracker != nil {
		plan.tracker.SheetStarting(plan.token)
		plan.tracker.SheetStarted(plan.token, a.Proc.PID)
		defer plan.tracker.SheetEnded(plan.token)
	}
	sup := a.Sup
	w := supervisedWait{sup: &sup, token: plan.token, proc: a.Proc, timeout: plan.timeout, grace: plan.killGrace,
		logCap: plan.logCap, capped: []string{plan.base + ".stdout", plan.base + ".stderr"},
		success: plan.profile.Errors.SuccessExitCodes, handover: plan.handover}
	out.result = w.wait(ctx, sheetrun.Result{ExitCode: -1, Started: a.Started})
	if errors.Is(out.result.Err, errHandedOver) {
		return out
	}
	out.result.StdoutTail = sheetrun.Tail(plan.base+".stdout", sheetrun.TailSize)
	out.result.StderrTail = sheetrun.Tail(plan.base+".stderr", sheetrun.TailSize)
	before := sheetrun.Snapshot{}
	if data, err := os.ReadFile(plan.base + ".snapshot"); err == nil {
		_ = json.Unmarshal(data, &before)
	}
	judge(ctx, plan, append(plan.env, reaper.TokenEnv+"="+plan.token), before, out)
	return out
}

// PIDs are the leaders of the adoptable tries (their cgroups are kept when
// a predecessor's are cleaned up).
func (a Adoptable) PIDs() map[int]bool {
	out := make(map[int]bool, len(a))
	for _, t := range a {
		out[t.Proc.PID] = true
	}
	return out
}

// slotAdopted tells the manager that an adopted try holds a slot.
type slotAdopted struct {
	jobID      string
	num        int
	instrument string
	job        *actor.PID
}

// adopt records the slot of a try that already runs (adopted after a
// restart): it is held whatever the limits say, since the try runs anyway.
func (s *slots) adopt(m *slotAdopted) {
	k := slotKey{m.jobID, m.num}
	if _, ok := s.held[k]; ok {
		return
	}
	s.held[k] = heldSlot{instrument: m.instrument, grantedAt: time.Now(), job: m.job}
	s.perInst[m.instrument]++
}
