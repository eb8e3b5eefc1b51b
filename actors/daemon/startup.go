package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/actorsys"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/logfile"
	"github.com/mzt-dev/mzt/internal/pidfile"
	"github.com/mzt-dev/mzt/internal/sdnotify"
	"github.com/mzt-dev/mzt/internal/supervisor"
)

// Run is a conductor's whole life; it returns when the conductor has stopped.
func Run(opts Options) error {
	var undo cleanups
	defer undo.run()
	c, err := startUp(opts, &undo)
	if err != nil {
		return err
	}
	return c.serve(&undo)
}

// cleanups is a stack of clean-up steps, run once, the last added first. A
// step for something handed over to an actor (which closes it itself from
// then on) is disarmed.
type cleanups struct{ steps []*cleanup }

type cleanup struct {
	fn    func()
	armed bool
}

func (c *cleanups) push(fn func()) *cleanup {
	s := &cleanup{fn: fn, armed: true}
	c.steps = append(c.steps, s)
	return s
}

func (c *cleanups) run() {
	steps := c.steps
	c.steps = nil
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].armed {
			steps[i].fn()
		}
	}
}

func (s *cleanup) disarm() { s.armed = false }

// launched is what start-up made, handed to serve.
type launched struct {
	opts     Options
	log      *slog.Logger
	stalePID int
	sigs     chan os.Signal
	system   *actor.ActorSystem
	daemon   *daemonActor
	pid      *actor.PID
}

// startUp takes the PID lock, makes sure no conductor serves the socket, and
// only then touches the home: log, state, crash recovery, cgroups, socket,
// actor tree. Every step's undo goes on the stack as soon as it succeeds.
func startUp(opts Options, undo *cleanups) (*launched, error) {
	cfg, err := config.Load(opts.Load)
	if err != nil {
		return nil, err
	}
	if err := opts.Paths.EnsureHome(); err != nil {
		return nil, err
	}
	lock, stalePID, err := pidfile.Acquire(opts.Paths.PIDFile)
	if errors.Is(err, pidfile.ErrLocked) {
		return nil, &AlreadyRunningError{PID: stalePID}
	}
	if err != nil {
		return nil, err
	}
	undo.push(func() { lock.Release() })
	// Holding the lock is not enough when a live conductor's PID file was
	// deleted: its socket still answers, and its log, state, cgroups and
	// running sheets are not ours to touch.
	if socketAnswers(opts.Paths.Socket) {
		return nil, &AlreadyRunningError{Socket: opts.Paths.Socket}
	}

	logw, err := logfile.Open(opts.Paths.Log, int64(cfg.Log.MaxSizeMB)<<20, cfg.Log.MaxFiles)
	if err != nil {
		return nil, err
	}
	undo.push(func() { logw.Close() })
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.LogLevel))
	log := newLogger(logw, opts.Stderr, level)
	if stalePID != 0 && stalePID != os.Getpid() {
		log.Info("cleaned up stale PID file", "stale_pid", stalePID)
	}
	// Errors below are logged here (the log is open) and returned.
	fail := func(what string, err error) (*launched, error) {
		log.Error(what, "err", err)
		return nil, err
	}

	// Signals work from here on, while the slow start-up runs.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	signal.Ignore(syscall.SIGPIPE)
	undo.push(func() { signal.Stop(sigs) })

	// Orphans of our sheets (double forks, setsid) must come back to us.
	if err := reaper.BecomeSubreaper(); err != nil {
		log.Warn("cannot become a child subreaper; escaped sheet processes are found only by their token", "err", err)
	}
	db, err := store.Open(opts.Paths.State, log)
	if err != nil {
		return fail("cannot open state database", err)
	}
	dbStep := undo.push(func() { db.Close() })
	recoverCtx, cancelRecover := context.WithTimeout(context.Background(), time.Minute)
	// Tries an earlier conductor left with its supervisors run on: adopted, not recovered.
	// This conductor's generation is durable before any supervisor hears it.
	gen, err := supervisor.NextGeneration(supervisorsDir(opts.Paths), time.Now())
	if err != nil {
		cancelRecover()
		return fail("cannot record the conductor generation", err)
	}
	adopt := jobs.FindAdoptable(recoverCtx, supervisorsDir(opts.Paths), gen, log)
	prepared, err := jobs.RecoverAdopting(recoverCtx, db, opts.Paths, time.Duration(cfg.KillGrace), adopt, log.With("subsystem", "jobs"))
	cancelRecover()
	if err != nil {
		return fail("cannot recover jobs", fmt.Errorf("recover jobs: %w", err))
	}
	// After recovery (which lets finishing tries record their exit codes),
	// a cgroup subtree of a crashed predecessor is emptied here.
	cgroups, isolation := openCgroups(cfg, opts.Paths.Home, adopt.PIDs(), log)
	handover := make(chan struct{})
	if cgroups != nil {
		undo.push(func() {
			if !handedOver(handover) { // else the tries in them run on, for the next conductor
				cgroups.Close()
			}
		})
	}
	sup := startSupervisor(opts, gen, log)
	undo.push(sup.close)
	ln, err := gateway.Listen(opts.Paths.Socket)
	if err != nil {
		return fail("cannot listen", err)
	}
	lnStep := undo.push(func() { ln.Close() })

	libLog := slog.New(demoted{log.Handler()}).With("component", "protoactor")
	system := actorsys.New(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return libLog }))
	rem, err := startRemote(system, cfg, opts, log) // before any spawn: see remote.go
	if err != nil {
		return fail("cannot start the remote endpoint", err)
	}
	undo.push(rem.stop)
	member, err := newFleetMember(cfg, opts, log)
	if err != nil {
		return fail("cannot join the fleet", err)
	}
	if member != nil {
		undo.push(member.Stop)
	}
	past, err := readPastEvents(db)
	if err != nil {
		return fail("cannot read past events", err)
	}
	d := &daemonActor{
		opts: opts, cfg: cfg, log: log, level: level, logw: logw, db: db, listener: ln, past: past,
		metrics: newMetrics(system, cfg), recovered: prepared, cgroups: cgroups, isolation: isolation, sup: sup, handover: handover,
		remote: rem, fleet: member, started: time.Now(), dead: map[string]bool{}, ready: make(chan error, 1), done: make(chan struct{}),
	}
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return d },
		actor.WithSupervisor(d.strategy())), "daemon")
	if err != nil {
		return nil, fmt.Errorf("spawn daemon actor: %w", err)
	}
	// The store actor closes the database, the gateway the listener.
	dbStep.disarm()
	lnStep.disarm()
	undo.push(func() {
		if d.events != nil {
			d.events.Close()
		}
	})
	return &launched{opts: opts, log: log, stalePID: stalePID, sigs: sigs, system: system, daemon: d, pid: pid}, nil
}

// openCgroups makes this conductor's cgroup subtree where the machine and
// conductor.toml allow it; isolation names what runs instead when not.
func openCgroups(cfg *config.Config, home string, adopted map[int]bool, log *slog.Logger) (*cgroup.Tree, string) {
	if !cfg.Cgroups {
		log.Info("process isolation: process groups, subreaper and sheet tokens", "cgroup_v2", "disabled in conductor.toml (cgroups = false)")
		return nil, "process-group"
	}
	tree, err := cgroup.NewKeeping(home, adopted)
	if err != nil {
		log.Info("process isolation: process groups, subreaper and sheet tokens", "cgroup_v2", err.Error())
		return nil, "process-group"
	}
	log.Info("process isolation: one cgroup v2 per sheet", "dir", tree.Dir())
	return tree, "cgroup2"
}

// serve forwards signals to the daemon actor, reports readiness and waits
// for the tree to stop.
func (c *launched) serve(undo *cleanups) error {
	d, log := c.daemon, c.log
	stopSignals := make(chan struct{})
	go c.forwardSignals(stopSignals)
	undo.push(func() { close(stopSignals) })

	select {
	case err := <-d.ready:
		if err != nil {
			c.system.Root.Stop(c.pid)
			<-d.done
			return err
		}
		log.Info("conductor ready", "pid", os.Getpid(), "socket", c.opts.Paths.Socket, "version", c.opts.Version,
			"clone", c.opts.Paths.Clone)
		if c.opts.Ready != nil {
			c.opts.Ready(ReadyInfo{PID: os.Getpid(), StalePID: c.stalePID})
		}
		// Under systemd (Type=notify) the unit is started only now.
		if _, err := sdnotify.Notify(sdnotify.Ready); err != nil {
			log.Warn("cannot tell systemd the conductor is ready", "err", err)
		}
	case <-d.done:
		return fmt.Errorf("conductor stopped during start-up: %s", d.stopReason)
	}
	<-d.done
	_, _ = sdnotify.Notify(sdnotify.Stopping)
	c.system.Shutdown()
	log.Info("conductor stopped", "reason", d.stopReason)
	if d.failure != "" {
		return fmt.Errorf("conductor stopped because its %s (see %s)", d.failure, c.opts.Paths.Log)
	}
	return nil
}

// forwardSignals turns OS signals into messages to the daemon actor until
// stop is closed.
func (c *launched) forwardSignals(stop <-chan struct{}) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("signal forwarding failed; signals are no longer handled", "panic", fmt.Sprint(r))
		}
	}()
	for {
		select {
		case s := <-c.sigs:
			c.system.Root.Send(c.pid, &signalMsg{sig: s})
		case <-stop:
			return
		}
	}
}

// socketAnswers reports whether something accepts connections at path. A
// live conductor whose PID file was deleted still does; a crashed one's
// socket refuses.
func socketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
