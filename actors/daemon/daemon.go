// Package daemon is the conductor's root: it takes the PID lock, opens the
// state database and the socket, spawns and supervises the subsystem actors,
// turns OS signals into messages and shuts everything down in order. It never
// prints to stdout (a detached conductor's stdout is /dev/null).
package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/actors/hooks"
	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/actors/profiler"
	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/eventlog"
	"github.com/mzt-dev/mzt/internal/fleet"
	"github.com/mzt-dev/mzt/internal/logfile"
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
	// SupervisorExe is the mzt binary a supervisor runs from (`supervise`):
	// tries then outlive this process. Empty: tries run in its own tree.
	SupervisorExe string
	// childMiddleware is installed on every subsystem (tests use it to inject panics).
	childMiddleware []actor.ReceiverMiddleware
}

// ReadyInfo is reported when the conductor serves.
type ReadyInfo struct{ PID, StalePID int }

// AlreadyRunningError means another conductor holds the PID file (PID) or,
// its PID file deleted, still serves the socket (Socket).
type AlreadyRunningError struct {
	PID    int
	Socket string
}

// RunningPID lets the CLI name the running conductor (0 when only its socket
// answered).
func (e *AlreadyRunningError) RunningPID() int { return e.PID }

func (e *AlreadyRunningError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("conductor is already running (answers at %s)", e.Socket)
	}
	return fmt.Sprintf("conductor is already running (PID %d)", e.PID)
}

type signalMsg struct{ sig os.Signal }

type reloaded struct {
	cfg *config.Config
	err error
}

type childrenStopped struct{}

// daemonActor is the root of the supervision tree. Run keeps a pointer to it
// only to read ready/done/stopReason/failure/events, which are written
// before done closes.
type daemonActor struct {
	opts      Options
	cfg       *config.Config
	log       *slog.Logger
	level     *slog.LevelVar
	logw      *logfile.Writer
	db        *store.DB
	isolation string
	started   time.Time
	metrics   *gateway.Metrics
	stats     correlation.Table
	cgroups   *cgroup.Tree
	sup       *ownSupervisor // nil: tries run in the conductor's own tree
	handover  chan struct{}  // closed when this conductor leaves its running tries to the next one
	tracker   *reaper.Tracker
	// Handed to the children they are made for, once, when they spawn.
	listener  *net.UnixListener
	recovered []jobs.Prepared
	past      pastEvents
	events    *eventlog.Log // made once the store runs

	store, jobs, monitor, profiler, correlation, reaper, gateway *actor.PID
	hooks                                                        *actor.PID
	fleet                                                        *fleet.Member // nil: no [fleet] etcd
	fleetPID                                                     *actor.PID
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
	case *gateway.DaemonInfoRequest:
		info := &gateway.DaemonInfo{Started: d.started, Draining: d.shutdown, Config: d.cfg, Isolation: d.isolation}
		info.SupervisorPID, info.SupervisorNote = d.sup.currentPID(), d.sup.fallbackNote()
		ctx.Respond(info)
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
	// In dependency order, each child given the PIDs of those it talks to.
	d.store = spawn(store.Props(d.db, log("store")), "store")
	d.events = newEventLog(ctx.ActorSystem(), d.past, d.store)
	d.past = pastEvents{}
	tracker := reaper.NewTracker()
	d.tracker = tracker
	if pid := d.sup.currentPID(); pid != 0 {
		tracker.Keep(pid)
	}
	d.sup.watch(ctx.ActorSystem(), tracker.Keep, d.handover)
	d.reaper = spawn(reaper.Props(tracker, time.Duration(d.cfg.KillGrace), log("reaper")), "reaper")
	d.correlation = spawn(correlation.Props(d.db, &d.stats, log("correlation")), "correlation")
	d.jobs = spawn(jobs.Props(jobs.Deps{Config: d.cfg, Paths: d.opts.Paths, Store: d.store, Tracker: tracker,
		Cgroups: d.cgroups, DB: d.db, Recovered: d.recovered, Log: log("jobs"),
		Correlation: d.correlation, Stats: &d.stats, Supervisor: d.sup.clientOrNil(), Handover: d.handover,
		Fleet: d.jobsFleet()}), "jobs")
	d.recovered = nil
	// Hooks due before a stop run now; later ones as jobs end and events come.
	d.hooks = spawn(hooks.Props(hooks.Deps{DB: d.db, Store: d.store, Hooks: d.cfg.Hooks,
		KillGrace: time.Duration(d.cfg.KillGrace), Tracker: tracker, Cgroups: d.cgroups, Home: d.opts.Paths.Home,
		Log: log("hooks")}), "hooks")
	d.monitor = spawn(monitor.PropsWithSupervisors(d.cfg, d.jobs, log("monitor"), d.cgroups, supervisorsDir(d.opts.Paths)), "monitor")
	d.profiler = spawn(profiler.Props(profiler.Deps{Config: d.cfg, Jobs: d.jobs, Store: d.store, Stats: &d.stats,
		Log: log("profiler")}), "profiler")
	d.spawnFleet(ctx, spawn)
	ready := d.ready
	gw := &gateway.Deps{
		Socket: d.opts.Paths.Socket, Version: d.opts.Version,
		Paths: d.opts.Paths, RequestTimeout: time.Duration(d.cfg.RequestTimeout),
		Daemon: ctx.Self(), Jobs: d.jobs, Monitor: d.monitor, Log: log("gateway"),
		Correlation: d.correlation, Events: d.events, DB: d.db,
		MetricsListen: d.cfg.Metrics.Listen, Metrics: d.metrics,
		APISocket: d.opts.Paths.APISocket, APIListen: d.cfg.API.Listen, APITLS: apiTLS(d.cfg, d.opts),
		Fleet: d.gatewayFleet(), FleetTLS: memberTLS(d.cfg, d.opts),
		OnServing: func(err error) {
			select {
			case ready <- err:
			default:
			}
		},
	}
	d.gateway = spawn(gateway.Props(gw, d.listener), "gateway")
	d.listener = nil
	d.spawnRemoteGateway(ctx, gw)
}

func (d *daemonActor) onSignal(ctx actor.Context, sig os.Signal) {
	switch sig {
	case syscall.SIGHUP:
		d.log.Info("SIGHUP: reloading configuration", "file", d.opts.Load.File, "profile", d.opts.Load.Profile)
		self, root, load := ctx.Self(), ctx.ActorSystem().Root, d.opts.Load
		go func() {
			res := &reloaded{}
			defer func() {
				if r := recover(); r != nil {
					res.err = fmt.Errorf("reload panicked: %v", r)
				}
				root.Send(self, res)
			}()
			res.cfg, res.err = config.Load(load)
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
	if req.GetKeepRunning() {
		d.beginHandover(ctx)
		ctx.Respond(reply)
		return
	}
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
	ctx.Send(d.hooks, &hooks.Reconfigure{Hooks: d.cfg.Hooks})
}

// stopChildrenInOrder stops the gateway first (no new requests), the store
// last (everyone else may still write), off the mailbox since each stop waits.
func (d *daemonActor) stopChildrenInOrder(ctx actor.Context) {
	var order []*actor.PID
	for _, pid := range []*actor.PID{d.fleetPID, d.gateway, d.jobs, d.monitor, d.profiler, d.correlation, d.reaper, d.store} {
		if pid != nil && !d.dead[childName(pid)] {
			order = append(order, pid)
		}
	}
	root, self, log, events, storePID := ctx.ActorSystem().Root, ctx.Self(), d.log, d.events, d.store
	go func() {
		// Whatever happens, the daemon must hear that this is over, or the
		// conductor would never exit.
		defer func() {
			if r := recover(); r != nil {
				log.Error("stopping subsystems failed", "panic", fmt.Sprint(r))
			}
			root.Send(self, &childrenStopped{})
		}()
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
