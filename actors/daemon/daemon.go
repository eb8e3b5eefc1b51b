// Package daemon is the conductor's root: it takes the PID lock, opens the
// state database and the socket, spawns and supervises the subsystem actors,
// turns OS signals into messages and shuts everything down in order. It never
// prints to stdout (a detached conductor's stdout is /dev/null).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/actors/profiler"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/eventlog"
	"github.com/mzt-dev/mzt/internal/logfile"
	"github.com/mzt-dev/mzt/internal/pidfile"
	"github.com/mzt-dev/mzt/messages"
)

// Options configure one conductor process.
type Options struct {
	Paths   config.Paths
	Load    config.LoadOptions
	Version string
	// Stderr receives readable logs (foreground); nil in the background.
	Stderr io.Writer
	// Ready is called once the socket serves; StalePID is the PID a crashed
	// predecessor left in the PID file (0 if none).
	Ready func(info ReadyInfo)
	// childMiddleware is installed on every subsystem (tests use it to inject panics).
	childMiddleware []actor.ReceiverMiddleware
}

// ReadyInfo is reported when the conductor serves.
type ReadyInfo struct{ PID, StalePID int }

// AlreadyRunningError means another conductor holds the PID file.
type AlreadyRunningError struct{ PID int }

// RunningPID lets the CLI name the running conductor.
func (e *AlreadyRunningError) RunningPID() int { return e.PID }

func (e *AlreadyRunningError) Error() string {
	return fmt.Sprintf("conductor is already running (PID %d)", e.PID)
}

// Run is a conductor's whole life; it returns when the conductor has stopped.
func Run(opts Options) error {
	cfg, err := config.Load(opts.Load)
	if err != nil {
		return err
	}
	if err := opts.Paths.EnsureHome(); err != nil {
		return err
	}
	lock, stalePID, err := pidfile.Acquire(opts.Paths.PIDFile)
	if errors.Is(err, pidfile.ErrLocked) {
		return &AlreadyRunningError{PID: stalePID}
	}
	if err != nil {
		return err
	}
	defer lock.Release()

	logw, err := logfile.Open(opts.Paths.Log, int64(cfg.Log.MaxSizeMB)<<20, cfg.Log.MaxFiles)
	if err != nil {
		return err
	}
	defer logw.Close()
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.LogLevel))
	log := newLogger(logw, opts.Stderr, level)
	if stalePID != 0 && stalePID != os.Getpid() {
		log.Info("cleaned up stale PID file", "stale_pid", stalePID)
	}

	// Signals work from here on, while the slow start-up runs.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Stop(sigs)

	// Orphans of our sheets (double forks, setsid) must come back to us.
	if err := reaper.BecomeSubreaper(); err != nil {
		log.Warn("cannot become a child subreaper; escaped sheet processes are found only by their token", "err", err)
	}
	db, err := store.Open(opts.Paths.State, log)
	if err != nil {
		log.Error("cannot open state database", "path", opts.Paths.State, "err", err)
		return err
	}
	recoverCtx, cancelRecover := context.WithTimeout(context.Background(), time.Minute)
	prepared, err := jobs.Recover(recoverCtx, db, opts.Paths, time.Duration(cfg.KillGrace), log.With("subsystem", "jobs"))
	cancelRecover()
	if err != nil {
		db.Close()
		log.Error("cannot recover jobs", "err", err)
		return fmt.Errorf("recover jobs: %w", err)
	}
	// After recovery (which lets finishing tries record their exit codes),
	// a cgroup subtree of a crashed predecessor is emptied here.
	var cgroups *cgroup.Tree
	cgErr := errors.New("disabled in conductor.toml (cgroups = false)")
	if cfg.Cgroups {
		cgroups, cgErr = cgroup.New(opts.Paths.Home)
	}
	isolation := "cgroup2"
	if cgErr != nil {
		isolation = "process-group"
		log.Info("process isolation: process groups, subreaper and sheet tokens", "cgroup_v2", cgErr.Error())
	} else {
		log.Info("process isolation: one cgroup v2 per sheet", "dir", cgroups.Dir())
		defer cgroups.Close()
	}
	ln, err := gateway.Listen(opts.Paths.Socket)
	if err != nil {
		db.Close()
		log.Error("cannot listen", "err", err)
		return err
	}

	libLog := slog.New(demoted{log.Handler()}).With("component", "protoactor")
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return libLog }))
	rem, err := startRemote(system, cfg, opts, log) // before any spawn: see remote.go
	if err != nil {
		ln.Close()
		db.Close()
		log.Error("cannot start the remote endpoint", "err", err)
		return err
	}
	defer rem.stop()
	events, err := openEventLog(system, db)
	if err != nil {
		ln.Close()
		db.Close()
		log.Error("cannot read past events", "err", err)
		return err
	}
	defer events.Close()
	d := &daemonActor{
		opts: opts, cfg: cfg, log: log, level: level, logw: logw, db: db, listener: ln, events: events,
		metrics:   newMetrics(system, cfg),
		recovered: &prepared, cgroups: cgroups, isolation: isolation, started: time.Now(), dead: map[string]bool{}, ready: make(chan error, 1), done: make(chan struct{}),
	}
	d.remote = rem
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return d },
		actor.WithSupervisor(d.strategy())), "daemon")
	if err != nil {
		ln.Close()
		db.Close()
		return fmt.Errorf("spawn daemon actor: %w", err)
	}

	stopSignals := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				system.Root.Send(pid, &signalMsg{sig: s})
			case <-stopSignals:
				return
			}
		}
	}()
	defer close(stopSignals)

	select {
	case err := <-d.ready:
		if err != nil {
			system.Root.Stop(pid)
			<-d.done
			return err
		}
		log.Info("conductor ready", "pid", os.Getpid(), "socket", opts.Paths.Socket, "version", opts.Version,
			"clone", opts.Paths.Clone)
		if opts.Ready != nil {
			opts.Ready(ReadyInfo{PID: os.Getpid(), StalePID: stalePID})
		}
	case <-d.done:
		return fmt.Errorf("conductor stopped during start-up: %s", d.stopReason)
	}
	<-d.done
	system.Shutdown()
	log.Info("conductor stopped", "reason", d.stopReason)
	if d.failure != "" {
		return fmt.Errorf("conductor stopped because its %s (see %s)", d.failure, opts.Paths.Log)
	}
	return nil
}

type signalMsg struct{ sig os.Signal }

// infoRequest asks the daemon for what only it knows (uptime, draining, config).
type infoRequest struct{}

type info struct {
	started   time.Time
	draining  bool
	cfg       *config.Config
	isolation string
}

type reloaded struct {
	cfg *config.Config
	err error
}

type childrenStopped struct{}

// daemonActor is the root of the supervision tree. Run keeps a pointer to it
// only to read ready/done/stopReason, which are written before done closes.
type daemonActor struct {
	opts      Options
	cfg       *config.Config
	log       *slog.Logger
	level     *slog.LevelVar
	logw      *logfile.Writer
	db        *store.DB
	listener  *net.UnixListener
	recovered *[]jobs.Prepared
	cgroups   *cgroup.Tree
	isolation string
	started   time.Time
	events    *eventlog.Log
	metrics   *gateway.Metrics
	stats     correlation.Table

	store, jobs, monitor, profiler, correlation, reaper, gateway *actor.PID
	remote                                                       *remoteEndpoint // nil without [remote] listen

	dead       map[string]bool // children that stopped for good
	shutdown   bool            // a shutdown has begun
	forced     bool
	stopReason string
	failure    string // set when an essential subsystem failed: Run then returns an error
	ready      chan error
	done       chan struct{}
}

func (d *daemonActor) strategy() actor.SupervisorStrategy {
	return &restartStrategy{
		backoff:     Backoff{Base: 100 * time.Millisecond, Max: 30 * time.Second},
		maxRestarts: 10,
		window:      5 * time.Minute,
		critical:    map[string]bool{"store": true},
		log:         d.log,
	}
}

func (d *daemonActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		d.spawnChildren(ctx)
	case *signalMsg:
		d.onSignal(ctx, m.sig)
	case *infoRequest:
		ctx.Respond(&info{started: d.started, draining: d.shutdown, cfg: d.cfg, isolation: d.isolation})
	case *messages.ShutdownRequest:
		d.onShutdownRequest(ctx, m)
	case *reloaded:
		d.applyReload(ctx, m)
	case *jobs.Drained:
		d.stopChildrenInOrder(ctx)
	case *childrenStopped:
		ctx.Stop(ctx.Self())
	case *actor.Terminated:
		d.onChildTerminated(ctx, m)
	case *actor.Stopped:
		if d.stopReason == "" {
			d.stopReason = "stopped"
		}
		close(d.done)
	}
}

func (d *daemonActor) spawnChildren(ctx actor.Context) {
	mw := d.opts.childMiddleware
	withMW := func(p *actor.Props) *actor.Props {
		if len(mw) == 0 {
			return p
		}
		return p.Configure(actor.WithReceiverMiddleware(mw...))
	}
	spawn := func(props *actor.Props, name string) *actor.PID {
		pid, err := ctx.SpawnNamed(withMW(props), name)
		if err != nil {
			panic(fmt.Errorf("spawn %s: %w", name, err)) // names are fixed; this cannot clash
		}
		return pid
	}
	log := func(name string) *slog.Logger { return d.log.With("subsystem", name) }
	jobsPID := actor.NewPID(ctx.ActorSystem().Address(), ctx.Self().GetId()+"/jobs")
	d.store = spawn(store.Props(d.db, log("store")), "store")
	tracker := reaper.NewTracker()
	d.reaper = spawn(reaper.Props(tracker, time.Duration(d.cfg.KillGrace), log("reaper")), "reaper")
	d.monitor = spawn(monitor.PropsWithCgroups(d.cfg, jobsPID, log("monitor"), d.cgroups), "monitor")
	d.profiler = spawn(profiler.Props(profiler.Deps{Config: d.cfg, Jobs: jobsPID, Store: d.store, Stats: &d.stats,
		Log: log("profiler")}), "profiler")
	d.correlation = spawn(correlation.Props(d.db, &d.stats, log("correlation")), "correlation")
	d.jobs = spawn(jobs.Props(jobs.Deps{Config: d.cfg, Paths: d.opts.Paths, Store: d.store, Monitor: d.monitor,
		Reaper: d.reaper, Tracker: tracker, Cgroups: d.cgroups, DB: d.db, Recovered: d.recovered, Log: log("jobs"),
		Correlation: d.correlation, Stats: &d.stats}), "jobs")
	gw := &gateway.Deps{
		Socket: d.opts.Paths.Socket, Listener: d.listener, Version: d.opts.Version,
		Paths: d.opts.Paths, RequestTimeout: time.Duration(d.cfg.RequestTimeout),
		Daemon: ctx.Self(), Jobs: d.jobs, Monitor: d.monitor, Store: d.store, Log: log("gateway"),
		Correlation: d.correlation, Events: d.events, DB: d.db,
		MetricsListen: d.cfg.Metrics.Listen, Metrics: d.metrics,
		Info: func(c gateway.Caller) (gateway.DaemonInfo, error) {
			res, err := c.Ask(ctx.Self(), &infoRequest{})
			if err != nil {
				return gateway.DaemonInfo{}, err
			}
			in := res.(*info)
			return gateway.DaemonInfo{Started: in.started, Draining: in.draining, Config: in.cfg, Isolation: in.isolation}, nil
		},
		OnServing: func(err error) {
			select {
			case d.ready <- err:
			default:
			}
		},
	}
	d.listener = nil // the gateway owns it now
	d.gateway = spawn(gateway.Props(gw), "gateway")
	d.spawnRemoteGateway(ctx, gw)
}

func (d *daemonActor) onSignal(ctx actor.Context, sig os.Signal) {
	switch sig {
	case syscall.SIGHUP:
		d.log.Info("SIGHUP: reloading configuration", "file", d.opts.Load.File, "profile", d.opts.Load.Profile)
		self, root, load := ctx.Self(), ctx.ActorSystem().Root, d.opts.Load
		go func() {
			cfg, err := config.Load(load)
			root.Send(self, &reloaded{cfg: cfg, err: err})
		}()
	case syscall.SIGUSR1:
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		d.log.Info("SIGUSR1: goroutine dump", "stacks", string(buf[:n]))
	default: // SIGTERM, SIGINT
		if d.shutdown {
			if !d.forced {
				d.log.Warn("second signal: interrupting running sheets now", "signal", sig.String())
				d.beginShutdown(ctx, "signal "+sig.String(), true, 0)
			}
			return
		}
		d.log.Info("signal: shutting down", "signal", sig.String(),
			"shutdown_timeout", time.Duration(d.cfg.ShutdownTimeout).String())
		d.beginShutdown(ctx, "signal "+sig.String(), false, time.Duration(d.cfg.ShutdownTimeout))
	}
}

// beginShutdown asks jobs to drain; Drained then stops the tree in order.
// Calling it again can only escalate to force.
func (d *daemonActor) beginShutdown(ctx actor.Context, reason string, force bool, timeout time.Duration) {
	if d.shutdown && (!force || d.forced) {
		return
	}
	if !d.shutdown {
		d.stopReason = reason
	}
	d.shutdown = true
	d.forced = d.forced || force
	ctx.Request(d.jobs, &jobs.Drain{Force: force, Timeout: timeout})
}

func (d *daemonActor) onShutdownRequest(ctx actor.Context, req *messages.ShutdownRequest) {
	reply := &messages.ShutdownResponse{Pid: int64(os.Getpid())}
	switch req.GetMode() {
	case messages.ShutdownMode_SHUTDOWN_MODE_FORCE:
		d.beginShutdown(ctx, "mzt stop --force", true, 0)
		ctx.Respond(reply)
	case messages.ShutdownMode_SHUTDOWN_MODE_DRAIN:
		d.beginShutdown(ctx, "mzt stop --drain", false, 0)
		ctx.Respond(reply)
	default:
		// Refuse while jobs run: ask jobs without blocking this mailbox.
		f := ctx.RequestFuture(d.jobs, &jobs.CountsRequest{}, 5*time.Second)
		ctx.ReenterAfter(f, func(res any, err error) {
			counts, ok := res.(*jobs.Counts)
			if err != nil || !ok {
				ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "mzt stop --force",
					"could not count running jobs: %v", err))
				return
			}
			if counts.RunningJobs > 0 {
				ctx.Respond(messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED,
					"mzt stop --drain (let running sheets finish) or mzt stop --force (interrupt them)",
					"%d job(s) running", counts.RunningJobs))
				return
			}
			d.beginShutdown(ctx, "mzt stop", false, 0)
			reply.RunningJobs = int64(counts.RunningJobs)
			ctx.Respond(reply)
		})
	}
}

func (d *daemonActor) applyReload(ctx actor.Context, m *reloaded) {
	if m.err != nil {
		d.log.Error("reload failed; keeping the current configuration", "err", m.err)
		return
	}
	changes := config.Diff(d.cfg, m.cfg)
	if len(changes) == 0 {
		d.log.Info("reload: nothing changed")
		return
	}
	for _, c := range changes {
		if c.NeedsRestart {
			d.log.Warn("reload: setting changed but needs a restart (mzt restart)", "key", c.Key, "old", c.Old, "new", c.New)
		} else {
			d.log.Info("reload: setting applied", "key", c.Key, "old", c.Old, "new", c.New)
		}
	}
	// Settings that need a restart keep their running value.
	m.cfg.Profiler.Enabled = d.cfg.Profiler.Enabled
	m.cfg.Log = d.cfg.Log
	m.cfg.Cgroups = d.cfg.Cgroups
	d.cfg = m.cfg
	d.level.Set(parseLevel(d.cfg.LogLevel))
	ctx.Send(d.jobs, &jobs.Reconfigure{Config: d.cfg})
	ctx.Send(d.monitor, &monitor.Reconfigure{Config: d.cfg})
	ctx.Send(d.profiler, &profiler.Reconfigure{Config: d.cfg})
}

// stopChildrenInOrder stops the gateway first (no new requests), the store
// last (everyone else may still write), off the mailbox since each stop waits.
func (d *daemonActor) stopChildrenInOrder(ctx actor.Context) {
	var order []*actor.PID
	for _, pid := range []*actor.PID{d.gateway, d.jobs, d.monitor, d.profiler, d.correlation, d.reaper, d.store} {
		if !d.dead[childName(pid)] {
			order = append(order, pid)
		}
	}
	root, self, log, events, storePID := ctx.ActorSystem().Root, ctx.Self(), d.log, d.events, d.store
	go func() {
		for _, pid := range order {
			if pid == storePID {
				events.Close() // its last batch reaches the store before the store stops
			}
			// A poison pill, not Stop: what is already queued (the store's
			// last writes above all) is handled before the actor stops.
			if err := root.PoisonFuture(pid).Wait(); err != nil {
				log.Warn("subsystem did not stop in time", "subsystem", childName(pid), "err", err)
			}
		}
		root.Send(self, &childrenStopped{})
	}()
}

func (d *daemonActor) onChildTerminated(ctx actor.Context, m *actor.Terminated) {
	name := childName(m.GetWho())
	d.dead[name] = true
	if d.shutdown {
		return
	}
	switch name {
	case "store", "jobs", "gateway":
		d.log.Error("essential subsystem stopped; shutting down the conductor", "subsystem", name)
		d.failure = name + " failed"
		d.beginShutdown(ctx, name+" failed", true, 0)
		if name == "jobs" {
			// Nobody is left to answer Drain.
			d.stopChildrenInOrder(ctx)
		}
	default:
		d.log.Error("subsystem stopped for good; running without it", "subsystem", name)
	}
}
