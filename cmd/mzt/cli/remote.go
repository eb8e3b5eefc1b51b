package cli

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/pki"
)

// localOnly are the commands --remote cannot apply to: they start, stop or
// run the conductor of this machine. Every command that talks to a
// conductor otherwise goes through dial, so --remote reaches the remote one
// (job and status commands, events, insights, top); commands that talk to
// no conductor ignore it.
var localOnly = map[string]bool{"start": true, "stop": true, "restart": true, "conductor-run": true}

// checkRemote refuses --remote (or MZT_REMOTE) on a command that would act
// on this machine's conductor instead, before anything is done.
func checkRemote(g *Globals, command string) error {
	if g.Remote == "" {
		return nil
	}
	name, _, _ := strings.Cut(command, " ")
	if localOnly[name] {
		return failf(exitUsage, "drop --remote (or unset MZT_REMOTE), or run the command on that host",
			"--remote does not apply to %s: it starts and stops only this machine's conductor", name)
	}
	if g.Clone != "" {
		return failf(exitUsage, "", "--remote and --clone do not go together")
	}
	return nil
}

// dialRemote returns a connection to the conductor --remote selects: its
// Conductor service ([api] listen) over mutual TLS with the certificates of
// client.toml. With transport = "protoactor", or without certificates (only
// a plaintext loopback [remote] endpoint then answers, health and status),
// its [remote] endpoint over this process's protoactor node (started on
// first use), which the conductor dials back to; mzt hands those commands
// over to mzt-conductor, the binary that links protoactor.
func (g *Globals) dialRemote() (client.Conn, error) {
	cc, err := config.LoadClient(g.paths.BaseHome)
	if err != nil {
		return nil, failf(exitUsage, "", "%v", err)
	}
	t, err := cc.Target(g.Remote)
	if err != nil {
		return nil, failf(exitUsage, "add it to "+g.paths.BaseHome+"/client.toml as [[remote]] name, address", "%v", err)
	}
	if t.CA != "" && t.Transport == config.TransportAPI {
		return newAPIConn(cc, t)
	}
	if g.node == nil {
		if g.node, err = g.newRemoteNode(cc, t); err != nil {
			return nil, err
		}
	}
	return g.node.Conn(t.Address), nil
}

// RemoteNode is a protoactor node, the transport of transport =
// "protoactor" and of endpoints without certificates. Only mzt-conductor
// links one (Env.NewRemoteNode): mzt hands such commands over to it.
type RemoteNode interface {
	Conn(addr string) client.Conn
	Close() error
}

func (g *Globals) newRemoteNode(cc *config.ClientConfig, t config.RemoteTarget) (RemoteNode, error) {
	if g.env.NewRemoteNode == nil {
		return nil, g.handOver()
	}
	opts := client.RemoteOptions{Advertise: cc.Listen, Timeout: time.Duration(cc.Timeout)}
	if t.CA != "" {
		opts.TLS = &client.TLSFiles{CA: t.CA, Cert: t.Cert, Key: t.Key}
	}
	n, err := g.env.NewRemoteNode(opts, t.Address)
	if err != nil {
		return nil, failf(exitFailed, "check the ca, cert and key of client.toml (mzt certs init creates them)", "%v", err)
	}
	return n, nil
}

// handOver replaces this process with mzt-conductor running the same
// command line: it links the protoactor client mzt leaves out, and prints,
// exits and takes signals as this command would have.
func (g *Globals) handOver() error {
	exe, err := g.conductorExe()
	if err != nil {
		return err
	}
	if err := syscall.Exec(exe, append([]string{conductorBinary}, g.args...), os.Environ()); err != nil {
		return fmt.Errorf("run %s: %w", exe, err)
	}
	return nil // not reached
}

// newAPIConn is a client of the Conductor service at t's address.
func newAPIConn(cc *config.ClientConfig, t config.RemoteTarget) (*client.Conductor, error) {
	cfg, err := pki.ClientConfig(pki.Files{CA: t.CA, Cert: t.Cert, Key: t.Key}, true)
	if err != nil {
		return nil, failf(exitFailed, "check the ca, cert and key of client.toml (mzt certs init creates them)", "%v", err)
	}
	c := client.NewRemoteAPI(t.Address, cfg)
	c.RequestTimeout = time.Duration(cc.Timeout)
	return c, nil
}
