// Package gateway owns the conductor's Unix socket: it accepts connections
// from the conductor's own uid, decodes frames, asks the actor that owns each
// request and writes the answer back. The same router answers the Conductor
// service (connect-go) on api.sock and [api] listen. It keeps no state of its
// own beyond its connections; a restart closes them and listens again.
package gateway

import (
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/eventlog"
)

// DaemonInfoRequest asks the daemon for what only it knows; it answers
// *DaemonInfo.
type DaemonInfoRequest struct{}

// DaemonInfo is what the gateway needs from the daemon for conductor-status.
type DaemonInfo struct {
	Started   time.Time
	Draining  bool
	Config    *config.Config
	Isolation string // cgroup2 | process-group
	// SupervisorPID is the supervisor this conductor started (0: none).
	SupervisorPID int
	// SupervisorNote says why sheets run without a supervisor, when they do.
	SupervisorNote string
}

// Caller asks an actor and waits (never from inside an actor's Receive).
type Caller interface {
	Ask(pid *actor.PID, msg any) (any, error)
}

// Deps wire the gateway to the rest of the tree.
type Deps struct {
	Socket                string
	Version               string
	Paths                 config.Paths
	RequestTimeout        time.Duration
	Daemon, Jobs, Monitor *actor.PID  // Daemon answers DaemonInfoRequest
	OnServing             func(error) // called after every (re)start; the first call marks readiness
	Log                   *slog.Logger
	Correlation           *actor.PID
	Events                *eventlog.Log // nil in tests that need none
	DB                    *store.DB     // reads of past events
	// MetricsListen, when set, serves Prometheus metrics from Metrics.
	MetricsListen string
	Metrics       *Metrics
	// APISocket, when set, serves the Conductor service there; APIListen
	// serves it over mutual TLS with APITLS's configuration too.
	APISocket string
	APIListen string
	APITLS    func() (*tls.Config, error)
	// Fleet is the fleet membership (fleet.go); nil when not a member.
	// FleetTLS is the client side of mutual TLS towards other members.
	Fleet    Fleet
	FleetTLS func() (*tls.Config, error)
}

// Actor is the gateway.
type Actor struct {
	deps    *Deps
	ln      *net.UnixListener // the first incarnation's, made by the daemon
	server  *Server
	metrics *metricsServer
	apis    []*apiServer
}

// Props builds the gateway actor. The first incarnation serves ln (the
// daemon listens before it reports ready); a restart listens again.
func Props(deps *Deps, ln *net.UnixListener) *actor.Props {
	var mu sync.Mutex
	return actor.PropsFromProducer(func() actor.Actor {
		mu.Lock()
		defer mu.Unlock()
		a := &Actor{deps: deps, ln: ln}
		ln = nil
		return a
	})
}

func (a *Actor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		ln := a.ln
		a.ln = nil
		if ln == nil {
			var err error
			if ln, err = Listen(a.deps.Socket); err != nil {
				a.deps.OnServing(err)
				panic(err) // the supervisor retries with backoff
			}
		}
		h := &dispatcher{deps: a.deps, root: ctx.ActorSystem().Root, timeout: a.deps.RequestTimeout}
		a.server = NewServer(ln, h, ServerOptions{RequestTimeout: a.deps.RequestTimeout, OwnUID: os.Getuid()}, a.deps.Log)
		a.server.Serve()
		if a.deps.MetricsListen != "" && a.deps.Metrics != nil {
			// A metrics endpoint that cannot listen is reported, not fatal:
			// jobs matter more than their graphs.
			var err error
			if a.metrics, err = startMetrics(a.deps.MetricsListen, a.deps.Metrics, h, a.deps.Log); err != nil {
				a.deps.Log.Error("cannot serve metrics", "listen", a.deps.MetricsListen, "err", err)
			}
		}
		a.apis = startAPI(a.deps, h)
		a.deps.OnServing(nil)
	case *actor.Stopping, *actor.Restarting:
		for _, api := range a.apis {
			api.close()
		}
		a.apis = nil
		if a.server != nil {
			a.server.Close()
			a.server = nil
		}
		if a.metrics != nil {
			a.metrics.close()
			a.metrics = nil
		}
	}
}
