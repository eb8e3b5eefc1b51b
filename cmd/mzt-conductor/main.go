// Command mzt-conductor is the conductor: `mzt start` runs it (detached, as
// `mzt-conductor conductor-run`, or in the foreground as `mzt-conductor start
// --foreground`). It understands every mzt command, but only it links the
// actors, so the mzt CLI stays small. This file is the only place the CLI
// and the actors meet.
package main

import (
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/mzt-dev/mzt/actors/daemon"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/client/actorclient"
	"github.com/mzt-dev/mzt/cmd/mzt/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{
		Stdout: os.Stdout, Stderr: os.Stderr,
		RunConductor: runConductor,
		NewRemoteNode: func(opts client.RemoteOptions, firstPeer string) (cli.RemoteNode, error) {
			n, err := actorclient.NewRemoteNode(opts, firstPeer)
			if err != nil {
				return nil, err
			}
			return remoteNode{n}, nil
		},
	}))
}

// remoteNode is the protoactor client node as the CLI uses it.
type remoteNode struct{ *actorclient.RemoteNode }

func (n remoteNode) Conn(addr string) client.Conn { return n.RemoteNode.Conn(addr) }

func runConductor(o cli.ConductorOptions) error {
	// MZT_CPUPROFILE=FILE profiles a conductor's whole life (for `just bench` work).
	if path := os.Getenv("MZT_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			defer f.Close() // runs after StopCPUProfile has written the profile
			if err := pprof.StartCPUProfile(f); err == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	opts := daemon.Options{Paths: o.Paths, Load: o.Load, Version: o.Version}
	// Tries are forked by a supervisor run from this same binary, so they
	// outlive the conductor's restarts (an upgrade's too: the path is the
	// binary that was current when this conductor started).
	if exe, err := os.Executable(); err == nil {
		opts.SupervisorExe = exe
	}
	if o.Stderr != nil {
		opts.Stderr = o.Stderr
	}
	opts.Ready = func(info daemon.ReadyInfo) {
		if o.Ready != nil {
			o.Ready(info.PID, info.StalePID)
		}
		// What start-up allocated and no longer holds (the argument
		// parser's model, migrations, the actor tree's construction) goes
		// back to the system at once, not over the scavenger's minutes.
		debug.FreeOSMemory()
		releaseStartupPages()
	}
	return daemon.Run(opts)
}
