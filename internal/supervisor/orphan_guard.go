package supervisor

import (
	"log/slog"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/internal/sheetrun"
)

// The orphan guard stops the tries that must not outlive their conductor's
// absence for long (TrySpec.KillIfOrphanedMS): a fleet job's try keeps
// running while only the conductor of its member died, and after the
// member's lease the job is placed on another member; the try must be dead
// by then, or the job runs twice at once.
//
// The conductor is present while it holds a connection: its attachment, or
// a wait on one of the tries (a conductor that adopted this supervisor's
// tries waits on them without attaching). When the last such connection
// ends, every guarded try gets a timer; a conductor that holds a connection
// again before it fires cancels them all (a quick `mzt restart` keeps its
// tries: the new conductor waits on them at once). A claim alone cancels
// nothing: a conductor that claimed the supervisor and died before it
// followed the tries (a crash during its start, again and again under a
// service manager) must not keep them alive past the deadline that runs
// since the last conductor left. Tries without the option are never
// touched: they wait for whichever conductor comes, however late.

// guard is a try's orphan timer state, under table.mu.
type guard struct {
	after, grace time.Duration // 0 after: not guarded
	timer        *time.Timer
	seq          uint64 // bumped on every arm and disarm: a stale timer does nothing
	fired        bool   // the supervisor stopped it for want of a conductor
}

func newGuard(spec TrySpec) guard {
	g := guard{after: time.Duration(spec.KillIfOrphanedMS) * time.Millisecond,
		grace: time.Duration(spec.OrphanGraceMS) * time.Millisecond}
	if g.grace <= 0 {
		g.grace = sheetrun.DefaultKillGrace
	}
	return g
}

// hold records a conductor connection; the first cancels the timers.
func (t *table) hold() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.holders++
	if t.holders == 1 {
		t.disarmLocked()
	}
}

// release records the end of a conductor connection; the last arms the
// timers of the guarded tries.
func (t *table) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.holders--
	if t.holders == 0 {
		t.armLocked()
	}
}

// armLocked starts the timer of every live guarded try that has none.
func (t *table) armLocked() {
	for _, tr := range t.live {
		t.armTryLocked(tr)
	}
}

func (t *table) armTryLocked(tr *try) {
	g := &tr.guard
	if g.after <= 0 || g.timer != nil || g.fired || tr.exit != nil {
		return
	}
	g.seq++
	seq := g.seq
	g.timer = time.AfterFunc(g.after, func() {
		defer func() { _ = recover() }() // a timer goroutine must not take the supervisor down
		t.orphanExpired(tr, seq)
	})
}

// disarmLocked cancels every timer: a conductor is back.
func (t *table) disarmLocked() {
	for _, tr := range t.live {
		g := &tr.guard
		if g.timer != nil {
			g.timer.Stop()
			g.timer = nil
			g.seq++
		}
	}
}

// orphanExpired stops tr if its timer seq is still the current one (no
// conductor came back in the meantime).
func (t *table) orphanExpired(tr *try, seq uint64) {
	t.mu.Lock()
	g := &tr.guard
	if g.seq != seq || g.timer == nil || t.holders > 0 || tr.exit != nil {
		t.mu.Unlock()
		return
	}
	g.timer, g.fired = nil, true
	grace, after := g.grace, g.after
	t.mu.Unlock()
	t.logger().Warn("no conductor holds this supervisor: stopping a try that must not run without one",
		"try", tr.spec.Token, "pid", tr.proc.PID, "orphaned_for", after, "grace", grace)
	t.stopTry(tr, grace)
}

// orphanedLocked reports whether tr was stopped by its guard.
func (t *table) orphanedLocked(tr *try) bool { return tr.guard.fired }

// orphanExitCode is what the exit file records for a try the guard stopped
// that exited on its own terms (it handled SIGTERM): a death by SIGTERM, so
// a returning conductor runs it again instead of judging it.
const orphanExitCode = 128 + int(syscall.SIGTERM)

func (t *table) logger() *slog.Logger {
	if t.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return t.log
}
