package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/certs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Remote endpoint limits: gRPC's 4 MiB default would tear the connection
// down on a big job list; smaller writer batches keep a run of 64 KiB log
// chunks far below the limit. Both ends use the same values.
const (
	remoteMaxMessage  = 64 << 20
	remoteWriterBatch = 32
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
	host, portStr, err := net.SplitHostPort(rc.Listen)
	if err != nil {
		return nil, fmt.Errorf("remote.listen %q: %w", rc.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("remote.listen %q: bad port", rc.Listen)
	}
	base := opts.Paths.Home
	if opts.Load.File != "" {
		base = filepath.Dir(opts.Load.File)
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	log = log.With("subsystem", "remote")
	serverOpts := []grpc.ServerOption{grpc.MaxRecvMsgSize(remoteMaxMessage),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true})}
	dialOpts := []grpc.DialOption{grpc.WithKeepaliveParams(keepalive.ClientParameters{
		Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true})}
	tlsOn := rc.CA != ""
	if tlsOn {
		files := certs.Files{CA: abs(rc.CA), Cert: abs(rc.Cert), Key: abs(rc.Key)}
		srv, err := certs.ServerConfig(files)
		if err != nil {
			return nil, fmt.Errorf("remote endpoint: %w", err)
		}
		// Replies go back to the address a client advertised, which its
		// certificate cannot be expected to name: check the chain only.
		cli, err := certs.ClientConfig(files, false)
		if err != nil {
			return nil, fmt.Errorf("remote endpoint: %w", err)
		}
		serverOpts = append(serverOpts, grpc.Creds(certs.LoggedServerCreds(srv, log)))
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(cli)))
	} else {
		// config.Validate allows this on loopback only; peers get health and
		// conductor status only.
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	serverOpts = append(serverOpts, grpc.StreamInterceptor(certs.StreamGuard(certs.GuardOptions{
		Types:       []string{"mzt.v1.Envelope"},
		Target:      func(id string) bool { return id == gateway.RemoteID },
		Address:     system.Address,
		Placeholder: gateway.RemotePlaceholder,
		// The remote gateway cancels what a departed peer left running.
		PeerGone: func(addr string) { system.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: addr}) },
		Log:      log,
	})))
	ropts := []remote.ConfigOption{remote.WithServerOptions(serverOpts...), remote.WithDialOptions(dialOpts...),
		remote.WithEndpointWriterBatchSize(remoteWriterBatch),
		// Initial sizes of growable queues: protoactor's 1e6 preallocates
		// 16 MB per peer connection (and once for the manager).
		remote.WithEndpointWriterQueueSize(1024), remote.WithEndpointManagerQueueSize(1024)}
	if rc.Advertise != "" {
		ropts = append(ropts, remote.WithAdvertisedHost(rc.Advertise))
	}
	r := remote.NewRemote(system, remote.Configure(host, port, ropts...))
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
