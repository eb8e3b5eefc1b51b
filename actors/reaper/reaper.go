// Package reaper owns the conductor's dead and escaped descendants. The
// conductor is a child subreaper, so a process a sheet started that
// double-forks or calls setsid is re-parented to the conductor when its
// parent dies. The reaper then: kills such orphans once the sheet they carry
// the token of (TokenEnv) has ended, and reaps the zombies nobody else waits
// for. It never picks processes by name: only our own children qualify.
package reaper

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"golang.org/x/sys/unix"
)

// Sweep asks for a sweep now (a sheet just ended).
type Sweep struct{}

type sweepDone struct{ zombies map[int]time.Time }

// zombieAge is how long a zombie must stay unclaimed before we reap it: a
// sheet leader's own goroutine reaps it within milliseconds, even one that
// exited before it could be registered.
const zombieAge = time.Second

// Interval between sweeps when nothing asks for one.
const Interval = 500 * time.Millisecond

// Actor is the reaper.
type Actor struct {
	tracker *Tracker
	grace   time.Duration
	log     *slog.Logger

	timer       *time.Timer
	sweeping    bool
	again       bool
	stopped     bool
	seenZombies map[int]time.Time
	selfPID     int
	session     int
}

// Props builds the reaper. grace is the SIGTERM-to-SIGKILL wait for orphans.
func Props(tracker *Tracker, grace time.Duration, log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{tracker: tracker, grace: grace, log: log, seenZombies: map[int]time.Time{}, selfPID: os.Getpid(), session: sessionOf(os.Getpid())}
	})
}

// BecomeSubreaper makes this process the reaper of its orphaned descendants.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	return nil
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.stopped = false
		a.schedule(ctx, Interval)
	case *Sweep:
		a.sweep(ctx, false)
	case *sweepDone:
		a.seenZombies = m.zombies
		a.sweeping = false
		if a.again {
			a.again = false
			a.sweep(ctx, false)
		}
		a.schedule(ctx, Interval)
	case *actor.Stopping:
		// Every sheet has ended by now: nothing below us may outlive us.
		a.stopped = true
		if a.timer != nil {
			a.timer.Stop()
		}
		if a.tracker.isHandedOver() {
			return // what runs is the supervisor's, and the next conductor's
		}
		a.sweepOnce(a.tracker.view(), nil, true)
		// Escapees whose parent was still alive a moment ago are not our
		// children yet: find them by token, wherever they are.
		if left := FindLeftovers(a.tracker.runPrefixes()); len(left) > 0 {
			for _, l := range left {
				a.log.Warn("killing a process left behind by a sheet", "pid", l.PID, "sheet_token", l.Token)
			}
			KillLeftovers(left, 0)
		}
	case *actor.Restarting:
		a.stopped = true
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}

func (a *Actor) schedule(ctx actor.Context, d time.Duration) {
	if a.stopped {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.timer = time.AfterFunc(d, func() { root.Send(self, &Sweep{}) })
}

func (a *Actor) sweep(ctx actor.Context, final bool) {
	if a.sweeping {
		a.again = true
		return
	}
	a.sweeping = true
	view, seen := a.tracker.view(), a.seenZombies
	self, root := ctx.Self(), ctx.ActorSystem().Root
	go func() {
		var zombies map[int]time.Time
		func() {
			defer func() {
				if r := recover(); r != nil {
					a.log.Error("reaper sweep panicked", "panic", r)
				}
			}()
			zombies = a.sweepOnce(view, seen, final)
		}()
		root.Send(self, &sweepDone{zombies: zombies})
	}()
}

// sweepOnce looks at our direct children once. It returns the zombies seen
// and since when, so that only zombies unclaimed for zombieAge are reaped: a
// sheet's own leader must never have its exit status stolen.
func (a *Actor) sweepOnce(view trackerView, seen map[int]time.Time, final bool) map[int]time.Time {
	zombies := map[int]time.Time{}
	now := time.Now()
	for _, pid := range children(a.selfPID) {
		if view.leaders[pid] {
			continue
		}
		state, pgid := procState(pid)
		if state == 'Z' && pgid == pid && sessionOf(pid) == a.session {
			// A group leader in our own session is a sheet's or a
			// validation's leader, kept unreaped on purpose while its
			// group is cleaned up (it pins the group id): its own
			// goroutine reaps it. Escapees made their own session.
			continue
		}
		if state == 'Z' {
			first, ok := seen[pid]
			if !ok {
				first = now
			}
			if (final || now.Sub(first) >= zombieAge) && !a.tracker.isLeader(pid) {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			} else {
				zombies[pid] = first
			}
			continue
		}
		if state == 0 {
			continue // gone
		}
		token, ok := sheetToken(pid)
		if !final && a.tracker.claimed(pid, token, ok) {
			continue // its sheet still runs (or, untokened, some sheet does)
		}
		a.log.Warn("killing a process left behind by a sheet", "pid", pid, "sheet_token", token)
		ticks := ticksOf(pid)
		if final {
			// The conductor is going: no time for grace, and no one to reap later.
			killNow(pid, pgid, ticks)
			continue
		}
		go terminate(pid, pgid, ticks, a.grace)
	}
	return zombies
}

// terminate sends SIGTERM to the process (and its group, when it leads one),
// then SIGKILL after grace. ticks is the process's start time when it was
// found: with PIDs recycled within seconds on a busy machine, every signal
// first checks that the PID still names that process, so a new sheet that
// got a dead orphan's PID is never hit.
func terminate(pid, pgid int, ticks uint64, grace time.Duration) {
	if !signalIfSame(pid, pgid, ticks, syscall.SIGTERM) {
		return
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if st, _ := procState(pid); st == 0 || st == 'Z' || ticksOf(pid) != ticks {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	signalIfSame(pid, pgid, ticks, syscall.SIGKILL)
}

// signalIfSame signals the process, or its group when it leads one, unless
// its PID now names another process; it reports whether anything may still
// be there. A group whose leader is gone is still signalled: its id cannot
// be reused while a member lives.
func signalIfSame(pid, pgid int, ticks uint64, sig syscall.Signal) bool {
	current, err := sheetrun.ProcStartTicks(pid)
	alive := err == nil
	if alive && current != ticks {
		return false // recycled PID: not ours
	}
	if pgid == pid {
		err := syscall.Kill(-pid, sig)
		return err == nil || alive
	}
	if !alive {
		return false
	}
	return syscall.Kill(pid, sig) == nil
}

func killNow(pid, pgid int, ticks uint64) {
	signalIfSame(pid, pgid, ticks, syscall.SIGKILL)
}

// children lists our direct children from /proc/self/task/*/children.
func children(self int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", self))
	var out []int
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// procState returns the state letter and process group of pid (0 if gone).
func procState(pid int) (byte, int) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 3 || len(f[0]) == 0 {
		return 0, 0
	}
	pgid, _ := strconv.Atoi(string(f[2]))
	return f[0][0], pgid
}

func sheetToken(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return "", false
	}
	prefix := []byte(TokenEnv + "=")
	for _, kv := range bytes.Split(data, []byte{0}) {
		if bytes.HasPrefix(kv, prefix) {
			return string(kv[len(prefix):]), true
		}
	}
	return "", false
}

// Leftover is a process that carries a sheet token.
type Leftover struct {
	PID, PGID  int
	Token      string
	StartTicks uint64
}

// FindLeftovers lists the processes (of any parent: after a crash they
// belong to init) whose token starts with one of prefixes. The token was
// planted in the sheet's environment by this conductor, so a match is a
// process that descends from that sheet, never a guess by name or ancestry.
func FindLeftovers(prefixes []string) []Leftover {
	if len(prefixes) == 0 {
		return nil
	}
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []Leftover
	for _, d := range dir {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		token, ok := sheetToken(pid)
		if !ok {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(token, p) {
				state, pgid := procState(pid)
				if state != 0 && state != 'Z' {
					out = append(out, Leftover{PID: pid, PGID: pgid, Token: token, StartTicks: ticksOf(pid)})
				}
				break
			}
		}
	}
	return out
}

// KillLeftovers terminates leftovers (SIGTERM, then SIGKILL after grace).
func KillLeftovers(list []Leftover, grace time.Duration) {
	var wg sync.WaitGroup
	for _, l := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			terminate(l.PID, l.PGID, l.StartTicks, grace)
		}()
	}
	wg.Wait()
}

func ticksOf(pid int) uint64 {
	t, _ := sheetrun.ProcStartTicks(pid)
	return t
}

// sessionOf is the session id of pid (field 6 of /proc/PID/stat), 0 if gone.
func sessionOf(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 4 {
		return 0
	}
	sid, _ := strconv.Atoi(string(f[3]))
	return sid
}
