package gateway

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/actors/monitor"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// dispatcher routes each request to the actor that owns its answer.
type dispatcher struct {
	deps        *Deps
	root        *actor.RootContext
	timeout     time.Duration
	supervisors supervisorLook
}

// Ask implements Caller: a bounded request to an actor; an *messages.Error
// reply becomes the returned error.
func (d *dispatcher) Ask(pid *actor.PID, msg any) (any, error) {
	res, err := d.root.RequestFuture(pid, msg, d.timeout).Result()
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_TIMEOUT, "see the conductor log",
			"the conductor's %s subsystem did not answer within %s", childID(pid), d.timeout)
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "see the conductor log",
			"the conductor's %s subsystem is not running", childID(pid))
	case err != nil:
		return nil, fmt.Errorf("ask %s: %w", childID(pid), err)
	}
	if e, ok := res.(*messages.Error); ok {
		return nil, e
	}
	return res, nil
}

func childID(pid *actor.PID) string { return pid.GetId() }

func (d *dispatcher) Handle(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
	if reply, err, ok := d.fleetHandle(ctx, req, send); ok {
		return reply, err
	}
	switch r := req.(type) {
	case *messages.HealthRequest:
		return &messages.HealthResponse{Pid: int64(os.Getpid()), Version: d.deps.Version,
			ProtocolVersion: messages.ProtocolVersion, Ready: true, MinProtocolVersion: messages.MinProtocolVersion,
			NegotiatedProtocolVersion: messages.Negotiate(r.GetMinProtocolVersion(), r.GetMaxProtocolVersion())}, nil
	case *messages.ConductorStatusRequest:
		return d.conductorStatus()
	case *messages.ShutdownRequest:
		return d.askProto(d.deps.Daemon, r)
	case *messages.SubmitJobRequest, *messages.JobStatusRequest, *messages.ListJobsRequest, *messages.JobControlRequest,
		*messages.GroupRequest,
		*messages.CleanRequest:
		return d.askProto(d.deps.Jobs, r)
	case *messages.LogsRequest:
		return nil, d.streamLogs(ctx, r, send)
	case *messages.EventsRequest:
		return nil, d.streamEvents(ctx, r, send)
	case *messages.InsightsRequest:
		return d.askProto(d.deps.Correlation, r)
	case *messages.TopRequest:
		return d.top()
	default:
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED,
			"restart the conductor after upgrading mzt: mzt restart", "%T is not a request this conductor serves", req)
	}
}

func (d *dispatcher) askProto(pid *actor.PID, req proto.Message) (proto.Message, error) {
	res, err := d.Ask(pid, req)
	if err != nil {
		return nil, err
	}
	reply, ok := res.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%s answered %T, not a message", childID(pid), res)
	}
	return reply, nil
}

// top answers `mzt top` in one round trip: the conductor panel, the active
// jobs, every running sheet and the latest events.
func (d *dispatcher) top() (proto.Message, error) {
	cs, err := d.conductorStatus()
	if err != nil {
		return nil, err
	}
	res, err := d.Ask(d.deps.Jobs, &jobs.TopRequest{})
	if err != nil {
		return nil, err
	}
	snap := res.(*messages.TopSnapshot)
	snap.Conductor = cs.(*messages.ConductorStatus)
	if d.deps.Events != nil {
		snap.Recent, _ = d.deps.Events.Recent("", 20)
	}
	return snap, nil
}

func (d *dispatcher) conductorStatus() (proto.Message, error) {
	ires, err := d.Ask(d.deps.Daemon, &DaemonInfoRequest{})
	if err != nil {
		return nil, err
	}
	in := ires.(*DaemonInfo)
	res, err := d.Ask(d.deps.Jobs, &jobs.CountsRequest{})
	if err != nil {
		return nil, err
	}
	counts := res.(*jobs.Counts)
	res, err = d.Ask(d.deps.Jobs, &jobs.SpendTodayRequest{})
	if err != nil {
		return nil, err
	}
	spend := res.(*jobs.SpendToday)
	res, err = d.Ask(d.deps.Monitor, &monitor.SnapshotRequest{})
	if err != nil {
		return nil, err
	}
	snap := res.(monitor.Snapshot)
	status := "ready"
	if in.Draining || counts.Draining {
		status = "draining"
	}
	return &messages.ConductorStatus{
		Pid:                 int64(os.Getpid()),
		Version:             d.deps.Version,
		UptimeSeconds:       time.Since(in.Started).Seconds(),
		Clone:               d.deps.Paths.Clone,
		Socket:              d.deps.Paths.Socket,
		Status:              status,
		AcceptingWork:       counts.Accepting && !in.Draining,
		RunningJobs:         int64(counts.RunningJobs),
		QueuedJobs:          int64(counts.QueuedJobs),
		RunningSheets:       int64(counts.RunningSheets),
		MemoryMb:            snap.MemoryMB,
		MemoryLimitMb:       snap.MemoryLimitMB,
		ChildProcesses:      int64(snap.Processes),
		ProcessLimit:        int64(snap.ProcessLimit),
		Pressure:            snap.Pressure.String(),
		MonitorNote:         snap.Note,
		MaxConcurrentJobs:   int64(in.Config.MaxConcurrentJobs),
		MaxConcurrentSheets: int64(in.Config.MaxConcurrentSheets),
		Home:                d.deps.Paths.Home,
		LogPath:             d.deps.Paths.Log,
		Isolation:           in.Isolation,
		SpentTodayUsd:       spend.USD,
		DailyBudgetUsd:      spend.DailyUSD,
		Supervisors:         d.supervisors.get(filepath.Join(d.deps.Paths.Home, "supervisors"), in.SupervisorPID),
		SupervisorNote:      in.SupervisorNote,
		Fleet:               d.fleetHealth(),
	}, nil
}
