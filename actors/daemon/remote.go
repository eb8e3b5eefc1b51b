package daemon

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/internal/remotewire"
)

// remoteEndpoint is the conductor's protoactor remote server ([remote] in
// conductor.toml). It must start before any actor is spawned: a PID made
// before remote starts carries the address "nonhost", which stops being
// local once the system has an address.
type remoteEndpoint struct {
	rem  *remote.Remote
	addr string
	log  *slog.Logger
}

// startRemote starts the endpoint when [remote] listen is set; nil otherwise.
// Relative certificate paths are relative to the config file's directory
// (else the home).
func startRemote(system *actor.ActorSystem, cfg *config.Config, opts Options, log *slog.Logger) (ep *remoteEndpoint, err error) {
	rc := cfg.Remote
	if rc.Listen == "" {
		return nil, nil
	}
	abs := configRelative(opts)
	log = log.With("subsystem", "remote")
	wire := remotewire.Settings{Listen: rc.Listen, Advertise: rc.Advertise}
	// Who may be sent replies: each peer at the address it announced from
	// its own host, and no one else.
	peers := certs.NewPeerBook(system.Address)
	tlsOn := rc.CA != ""
	if tlsOn {
		files := certs.Files{CA: abs(rc.CA), Cert: abs(rc.Cert), Key: abs(rc.Key)}
		srv, err := certs.ServerConfig(files)
		if err != nil {
			return nil, fmt.Errorf("remote endpoint: %w", err)
		}
		// Replies go back to the address a client announced, which its
		// certificate cannot be expected to name: the chain is checked, and
		// the certificate must be the one that announced the address.
		cli, err := certs.ClientConfig(files, false)
		if err != nil {
			return nil, fmt.Errorf("remote endpoint: %w", err)
		}
		wire.ServerCreds, wire.DialCreds = certs.LoggedServerCreds(srv, log), peers.DialCreds(cli)
	}
	// Without TLS, config.Validate allows loopback only, and peers get
	// health and conductor status only.
	wire.Guard = certs.StreamGuard(certs.GuardOptions{
		Types:       []string{"mzt.v1.Envelope"},
		Target:      func(id string) bool { return id == gateway.RemoteID },
		Address:     system.Address,
		Placeholder: gateway.RemotePlaceholder,
		// The remote gateway cancels what a departed peer left running.
		PeerGone: func(addr string) { system.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: addr}) },
		Peers:    peers,
		Log:      log,
	})
	rcfg, err := remotewire.Config(wire)
	if err != nil {
		return nil, fmt.Errorf("remote.listen: %w", err)
	}
	r := remote.NewRemote(system, rcfg)
	defer func() {
		if p := recover(); p != nil { // remote.Start panics when it cannot listen
			err = fmt.Errorf("remote endpoint on %s: %v", rc.Listen, p)
		}
	}()
	r.Start()
	ep = &remoteEndpoint{rem: r, addr: system.Address(), log: log}
	if tlsOn {
		log.Info("remote endpoint listening (mutual TLS)", "listen", rc.Listen, "address", ep.addr, "gateway", gateway.RemoteID)
	} else {
		log.Warn("remote endpoint listening WITHOUT TLS on loopback: peers get health and conductor status only", "listen", rc.Listen,
			"address", ep.addr, "gateway", gateway.RemoteID)
	}
	return ep, nil
}

// stop closes the endpoint after the actors have stopped.
func (e *remoteEndpoint) stop() {
	if e == nil {
		return
	}
	e.rem.Shutdown(false)
	e.log.Info("remote endpoint closed")
}

// spawnRemoteGateway starts the remote gateway beside the socket one, with
// the same dependencies.
func (d *daemonActor) spawnRemoteGateway(ctx actor.Context, gw *gateway.Deps) {
	if d.remote == nil {
		return
	}
	if _, err := ctx.SpawnNamed(gateway.RemoteProps(gw), gateway.RemoteName); err != nil {
		panic(fmt.Errorf("spawn %s: %w", gateway.RemoteName, err))
	}
}
