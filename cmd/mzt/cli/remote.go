package cli

import (
	"strings"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/certs"
)

// remoteCommands are the commands `--remote` applies to: the job and status
// commands. Starting, stopping and configuring a conductor stay local.
var remoteCommands = map[string]bool{
	"run": true, "status": true, "list": true, "pause": true, "resume": true, "cancel": true,
	"logs": true, "conductor-status": true, "events": true, "insights": true,
}

// checkRemote refuses --remote on a command it does not apply to, before
// anything is done.
func checkRemote(g *Globals, command string) error {
	if g.Remote == "" {
		return nil
	}
	name, _, _ := strings.Cut(command, " ")
	if !remoteCommands[name] {
		return failf(exitUsage, "drop --remote (or unset MZT_REMOTE), or run the command on that host",
			"--remote does not apply to %s (it works with run, status, list, pause, resume, cancel, logs, events, insights and conductor-status)", name)
	}
	if g.Clone != "" {
		return failf(exitUsage, "", "--remote and --clone do not go together")
	}
	return nil
}

// dialRemote returns a connection to the conductor --remote selects, over
// this process's protoactor node (started on first use).
func (g *Globals) dialRemote() (client.Conn, error) {
	cc, err := config.LoadClient(g.paths.BaseHome)
	if err != nil {
		return nil, failf(exitUsage, "", "%v", err)
	}
	t, err := cc.Target(g.Remote)
	if err != nil {
		return nil, failf(exitUsage, "add it to "+g.paths.BaseHome+"/client.toml as [[remote]] name, address", "%v", err)
	}
	if g.node == nil {
		if g.node, err = newRemoteNode(cc, t); err != nil {
			return nil, err
		}
	}
	return g.node.Conn(t.Address), nil
}

func newRemoteNode(cc *config.ClientConfig, t config.RemoteTarget) (*client.RemoteNode, error) {
	opts := client.RemoteOptions{Advertise: cc.Listen, Timeout: time.Duration(cc.Timeout)}
	if t.CA != "" {
		opts.TLS = &certs.Files{CA: t.CA, Cert: t.Cert, Key: t.Key}
	}
	n, err := client.NewRemoteNode(opts, t.Address)
	if err != nil {
		return nil, failf(exitFailed, "check the ca, cert and key of client.toml (mzt certs init creates them)", "%v", err)
	}
	return n, nil
}
