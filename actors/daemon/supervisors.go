package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

// respawnTries bounds how often a supervisor that died is started again in
// a row before the conductor gives up and runs tries itself.
const respawnTries = 3

// ownSupervisor is the supervisor this conductor started for its tries. It
// is watched: should it die, its tries fall back to crash recovery (their
// waits fail; each is killed by its recorded identity and run again without
// using an attempt) and a new supervisor is started for the tries to come.
type ownSupervisor struct {
	own  supervisor.Own // what the jobs actor's client follows
	pid  atomic.Int64   // 0: none (tries run in the conductor)
	note atomic.Pointer[string]
	att  lossWatch
	// start spawns and attaches a new supervisor.
	// keep is told its pid as soon as it is forked.
	start    func(ctx context.Context, keep func(pid int)) (supervisor.Client, int, lossWatch, error)
	backoff  time.Duration // before the second try to start one; twice that before the third
	log      *slog.Logger
	stop     chan struct{}
	once     sync.Once
	watching sync.Once
	wg       sync.WaitGroup
}

func (s *ownSupervisor) clientOrNil() *supervisor.Client {
	if s == nil {
		return nil
	}
	return s.own.Client()
}

// currentPID is the supervisor's pid now (0: none).
func (s *ownSupervisor) currentPID() int {
	if s == nil {
		return 0
	}
	return int(s.pid.Load())
}

// lossWatch tells when an attached supervisor died.
type lossWatch interface{ Lost() <-chan struct{} }

// supervisorsDir holds the sockets of the home's supervisors.
func supervisorsDir(p config.Paths) string { return filepath.Join(p.Home, "supervisors") }

// startSupervisor starts this conductor's supervisor and attaches to it
// (the attachment ends with this process, whichever way it ends). Without
// one, tries run as children of the conductor and die with a restart.
func startSupervisor(opts Options, gen uint64, log *slog.Logger) *ownSupervisor {
	if opts.SupervisorExe == "" {
		return nil
	}
	s := &ownSupervisor{log: log, stop: make(chan struct{}), backoff: time.Second,
		start: func(ctx context.Context, keep func(pid int)) (supervisor.Client, int, lossWatch, error) {
			c, pid, err := supervisor.SpawnNotify(ctx, opts.SupervisorExe, supervisorsDir(opts.Paths), opts.Version,
				filepath.Join(opts.Paths.Home, "supervisor.log"), keep)
			if err != nil {
				return c, 0, nil, err
			}
			c.Gen = gen
			a, err := c.AttachWatching(ctx)
			if err != nil {
				return c, 0, nil, fmt.Errorf("attach to the supervisor: %w", err)
			}
			return c, pid, a, nil
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, pid, a, err := s.start(ctx, nil) // the reaper does not run yet; it is told at its start
	if err != nil {
		log.Warn("cannot start a supervisor: running sheets will not survive a restart of the conductor", "err", err)
		return nil
	}
	log.Info("supervisor started", "pid", pid, "socket", c.Path, "protocol", supervisor.ProtocolVersion)
	s.own.Set(&c)
	s.pid.Store(int64(pid))
	s.att = a
	return s
}

// watch follows the supervisor's attachment until close: when it dies, the
// loss is logged and raised as an event, and a new one is started (keep
// spares it from the reaper); after respawnTries failures in a row the
// conductor runs tries itself, which conductor-status shows. handover
// closes when the conductor leaves its tries to the next one: nothing is
// started then.
func (s *ownSupervisor) watch(system *actor.ActorSystem, keep func(pid int), handover <-chan struct{}) {
	if s == nil {
		return
	}
	publish := func(status, detail string) {
		system.EventStream.Publish(&messages.Event{Kind: string(messages.EventSupervisor), Status: status, Detail: detail})
	}
	s.watching.Do(func() { s.wg.Add(1); go s.watchLoop(publish, keep, handover) })
}

func (s *ownSupervisor) watchLoop(publish func(status, detail string), keep func(pid int), handover <-chan struct{}) {
	{
		defer s.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("watching the supervisor failed; a supervisor that dies is no longer replaced",
					"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}()
		for att := s.att; ; {
			select {
			case <-s.stop:
				return
			case <-att.Lost():
			}
			old := s.pid.Load()
			if handedOver(handover) {
				s.log.Warn("the supervisor died while the conductor was handing over; its sheets are recovered at the next start", "pid", old)
				return
			}
			var why error
			if e, ok := att.(interface{ Err() error }); ok {
				why = e.Err() // set when watching failed rather than the supervisor
			}
			s.log.Warn("the conductor's supervisor died: its running sheets are killed by their recorded identity and run again without using an attempt; starting a new supervisor",
				"pid", old, "err", why)
			publish("lost", fmt.Sprintf("supervisor %d died; its running sheets run again", old))
			if att = s.respawn(keep); att == nil {
				publish("none", "no supervisor: sheets run in the conductor's process and will not survive its restart")
				return
			}
			publish("restarted", fmt.Sprintf("supervisor %d replaces %d", s.pid.Load(), old))
		}
	}
}

// respawn starts a new supervisor, a few times if need be; nil: none could
// be started, and tries run in the conductor from now on.
func (s *ownSupervisor) respawn(keep func(pid int)) lossWatch {
	s.own.Set(nil) // until a new one answers, tries start in the conductor
	s.pid.Store(0)
	var lastErr error
	for i := range respawnTries {
		if i > 0 {
			select {
			case <-s.stop:
				return nil
			case <-time.After(time.Duration(i) * s.backoff):
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, pid, a, err := s.start(ctx, keep)
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		s.own.Set(&c)
		s.pid.Store(int64(pid))
		s.log.Info("supervisor restarted", "pid", pid, "socket", c.Path)
		return a
	}
	note := fmt.Sprintf("no supervisor (it died and could not be restarted: %v): sheets run in the conductor's process and will not survive its restart", lastErr)
	s.note.Store(&note)
	s.log.Error("cannot restart the supervisor: sheets now run in the conductor's process and will not survive its restart",
		"err", lastErr)
	return nil
}

// fallbackNote says why tries run in the conductor, when they do.
func (s *ownSupervisor) fallbackNote() string {
	if s == nil {
		return ""
	}
	if n := s.note.Load(); n != nil {
		return *n
	}
	return ""
}

// close stops watching (the attachment itself ends with the process).
func (s *ownSupervisor) close() {
	if s == nil {
		return
	}
	s.once.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// beginHandover stops this conductor at once, leaving every try its
// supervisor holds running for the next conductor to adopt (mzt restart):
// nothing is drained or interrupted; the store is closed last as on any stop,
// and what was in flight is what crash recovery is made for. Without a
// supervisor, running sheets would die with the conductor: it stops as
// --force does (they run again at the next start).
func (d *daemonActor) beginHandover(ctx actor.Context) {
	if d.sup == nil || d.sup.currentPID() == 0 {
		d.beginShutdown(ctx, "mzt restart (no supervisor: running sheets interrupted)", true, 0)
		return
	}
	if d.shutdown {
		return
	}
	d.shutdown, d.stopReason = true, "mzt restart: running sheets stay with their supervisor"
	d.log.Info("handing over: running sheets stay with their supervisor for the next conductor", "supervisor", d.sup.currentPID())
	close(d.handover)
	if d.tracker != nil {
		d.tracker.HandOver()
	}
	d.stopChildrenInOrder(ctx)
}

// handedOver reports whether this conductor left its tries running.
func handedOver(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
