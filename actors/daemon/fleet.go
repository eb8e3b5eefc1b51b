package daemon

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	fleetactor "github.com/mzt-dev/mzt/actors/fleet"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/internal/fleet"
)

// newFleetMember makes this conductor's fleet member when conductor.toml
// names etcd endpoints; nil otherwise (nothing is dialled).
func newFleetMember(cfg *config.Config, opts Options, log *slog.Logger) (*fleet.Member, error) {
	f := cfg.Fleet
	if !f.Member() {
		return nil, nil
	}
	var tlsCfg *tls.Config
	if f.CA != "" || f.Cert != "" {
		abs := configRelative(opts)
		c, err := certs.ClientConfig(certs.Files{CA: abs(f.CA), Cert: abs(f.Cert), Key: abs(f.Key)}, true)
		if err != nil {
			return nil, fmt.Errorf("fleet: etcd certificates: %w", err)
		}
		tlsCfg = c
	}
	addr := f.Advertise
	if addr == "" {
		addr = cfg.API.Listen
	}
	return fleet.New(fleet.Options{Name: f.MemberName(), Address: addr, Version: opts.Version, PID: int64(os.Getpid()),
		Endpoints: f.Etcd, TLS: tlsCfg, LeaseTTL: time.Duration(f.LeaseTTL), ClaimInterval: time.Duration(f.ClaimInterval),
		PublishInterval: time.Duration(f.PublishInterval), Dir: filepath.Join(opts.Paths.Home, "fleet"),
		Account: fleetactor.AccountOf(opts.Paths.Instruments), MemberTLS: memberTLS(cfg, opts), Log: log.With("subsystem", "fleet")})
}

// spawnFleet starts the member's loops once jobs and monitor run.
func (d *daemonActor) spawnFleet(ctx actor.Context, spawn func(*actor.Props, string) *actor.PID) {
	if d.fleet == nil {
		return
	}
	d.fleetPID = spawn(fleetactor.Props(fleetactor.Deps{Member: d.fleet, Config: d.cfg, Paths: d.opts.Paths,
		Jobs: d.jobs, Monitor: d.monitor, Log: d.log.With("subsystem", "fleet")}), "fleet")
}

// jobsFleet is the member as the job manager sees it (a nil interface, not
// a nil pointer, without one).
func (d *daemonActor) jobsFleet() jobs.Fleet {
	if d.fleet == nil {
		return nil
	}
	return d.fleet
}

func (d *daemonActor) gatewayFleet() gateway.Fleet {
	if d.fleet == nil {
		return nil
	}
	return d.fleet
}

// memberTLS is the client side of mutual TLS towards other members'
// Conductor service: this host's [api] certificates (good for both ends).
func memberTLS(cfg *config.Config, opts Options) func() (*tls.Config, error) {
	ca, cert, key := cfg.API.Files(cfg.Remote)
	if ca == "" || cert == "" {
		return nil
	}
	abs := configRelative(opts)
	return func() (*tls.Config, error) {
		c, err := certs.ClientConfig(certs.Files{CA: abs(ca), Cert: abs(cert), Key: abs(key)}, false)
		if err != nil {
			return nil, fmt.Errorf("fleet member certificates: %w", err)
		}
		return c, nil
	}
}
