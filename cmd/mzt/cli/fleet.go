package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// Fleet is `mzt fleet`.
type Fleet struct {
	Status FleetStatusCmd `cmd:"" help:"The fleet's members from etcd ([fleet] etcd; with --remote, as that member sees them), else this conductor and every [[fleet.peer]], asked in parallel."`
	List   FleetListCmd   `cmd:"" help:"Every queued and running fleet job, with the member that runs it."`
}

// FleetStatusCmd is `mzt fleet status`.
type FleetStatusCmd struct {
	JSON bool `help:"Print one JSON object."`
}

type fleetMember struct {
	Name             string  `json:"name"`
	Address          string  `json:"address"`
	Reachable        bool    `json:"reachable"`
	Error            string  `json:"error,omitempty"`
	Status           string  `json:"status,omitempty"`
	Pressure         string  `json:"pressure,omitempty"`
	RunningJobs      int64   `json:"running_jobs"`
	QueuedJobs       int64   `json:"queued_jobs"`
	RunningSheets    int64   `json:"running_sheets"`
	Version          string  `json:"version,omitempty"`
	PID              int64   `json:"pid,omitempty"`
	RoundTripSeconds float64 `json:"round_trip_seconds"`
}

type fleetJSON struct {
	Schema      string        `json:"schema"`
	Conductors  []fleetMember `json:"conductors"`
	Reachable   int           `json:"reachable"`
	Unreachable int           `json:"unreachable"`
}

// Run asks every conductor at once, each within fleet.timeout, and prints
// the table even when some are down (exit 0: the view itself worked).
// With --remote it shows the fleet the remote conductor is a member of,
// as that member reads it from etcd: this host's config plays no part.
func (c *FleetStatusCmd) Run(g *Globals) error {
	if g.Remote != "" {
		return c.etcdStatus(g)
	}
	cfg, err := config.Load(config.LoadOptions{File: g.paths.ConfigFile})
	if err != nil {
		return failf(exitUsage, "", "%v", err)
	}
	if cfg.Fleet.Member() {
		return c.etcdStatus(g)
	}
	timeout := time.Duration(cfg.Fleet.Timeout)
	members := make([]fleetMember, 1+len(cfg.Fleet.Peer))
	members[0] = fleetMember{Name: "local", Address: g.paths.Socket}
	for i, p := range cfg.Fleet.Peer {
		members[i+1] = fleetMember{Name: p.Name, Address: p.Address}
	}
	// Peers are asked through their Conductor service ([api] listen) when
	// this host has certificates, else through the protoactor node (a
	// plaintext loopback endpoint answers status).
	conns := make([]client.Conn, len(members))
	if len(cfg.Fleet.Peer) > 0 {
		cc, err := config.LoadClient(g.paths.BaseHome)
		if err != nil {
			return failf(exitUsage, "", "%v", err)
		}
		cc.Timeout = cfg.Fleet.Timeout
		var node RemoteNode
		for i, p := range cfg.Fleet.Peer {
			t := cc.FleetTarget(p.Name, p.Address)
			if t.CA != "" && t.Transport == config.TransportAPI {
				api, err := newAPIConn(cc, t)
				if err != nil {
					return err
				}
				defer api.Close()
				conns[i+1] = api
				continue
			}
			if node == nil {
				if node, err = g.newRemoteNode(cc, t); err != nil {
					return err
				}
				defer node.Close()
			}
			conns[i+1] = node.Conn(p.Address)
		}
	}
	ctx, cancel := context.WithTimeout(g.ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &members[i]
			start := time.Now()
			st, err := fleetAsk(ctx, g, conns[i])
			m.RoundTripSeconds = time.Since(start).Seconds()
			if err != nil {
				m.Error = fleetError(err)
				return
			}
			m.Reachable, m.Status, m.Pressure, m.Version, m.PID = true, st.Status, st.Pressure, st.Version, st.Pid
			m.RunningJobs, m.QueuedJobs, m.RunningSheets = st.RunningJobs, st.QueuedJobs, st.RunningSheets
		}()
	}
	wg.Wait()
	out := fleetJSON{Schema: schema, Conductors: members}
	for _, m := range members {
		if m.Reachable {
			out.Reachable++
		} else {
			out.Unreachable++
		}
	}
	if c.JSON {
		return g.printJSON(out)
	}
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tHEALTH\tPRESSURE\tJOBS\tQUEUED\tSHEETS\tTIME")
	for _, m := range members {
		if !m.Reachable {
			fmt.Fprintf(tw, "%s\t%s\tunreachable\t-\t-\t-\t-\t%s\n", m.Name, m.Address, m.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.0fms\n", m.Name, m.Address, m.Status, m.Pressure,
			m.RunningJobs, m.QueuedJobs, m.RunningSheets, m.RoundTripSeconds*1000)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	g.printf("%d of %d conductors reachable\n", out.Reachable, len(members))
	return nil
}

func fleetAsk(ctx context.Context, g *Globals, conn client.Conn) (*messages.ConductorStatus, error) {
	if conn == nil { // this host's own conductor
		conn, err := client.Dial(ctx, g.paths.Socket)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return client.RequestAs[*messages.ConductorStatus](ctx, conn, &messages.ConductorStatusRequest{})
	}
	return client.RequestAs[*messages.ConductorStatus](ctx, conn, &messages.ConductorStatusRequest{})
}

func fleetError(err error) string {
	if errors.Is(err, client.ErrNotRunning) {
		return "conductor is not running"
	}
	return err.Error()
}
