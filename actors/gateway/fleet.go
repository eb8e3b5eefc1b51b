package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/user"
	"path/filepath"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/fleet"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
	"google.golang.org/protobuf/proto"
)

// Fleet is this conductor's fleet membership as the gateway uses it
// (Deps.Fleet; nil when it is no member).
type Fleet interface {
	Name() string
	Submit(ctx context.Context, j fleet.Job) error
	List(ctx context.Context) (*messages.FleetJobList, error)
	Status(ctx context.Context) (*messages.FleetStatus, error)
	Health() *messages.FleetHealth
	Where(ctx context.Context, id string) (member, address, state string, err error)
	CancelQueued(ctx context.Context, id string) error
	// OpenBundle is a bundle this member keeps for the fleet, by digest.
	OpenBundle(digest string) (io.ReadCloser, int64, error)
	// Ended is how a fleet job ended, where its member recorded it.
	Ended(ctx context.Context, id string) (fleet.Ended, bool, error)
}

var errNotMember = messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED,
	`add [fleet] etcd = ["https://HOST:2379"] to conductor.toml and restart the conductor`,
	"this conductor is not a fleet member")

// fleetHandle answers what concerns the fleet: a fleet submit, fleet list
// and status, and a job this conductor does not know, asked of the member
// that runs it. ok is false for everything else.
func (d *dispatcher) fleetHandle(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error, bool) {
	f := d.deps.Fleet
	switch r := req.(type) {
	case *messages.SubmitJobRequest:
		if !r.GetFleet() {
			return nil, nil, false
		}
		if f == nil {
			return nil, errNotMember, true
		}
		reply, err := d.fleetSubmit(ctx, f, r)
		return reply, err, true
	case *messages.FleetListRequest:
		if f == nil {
			return nil, errNotMember, true
		}
		reply, err := f.List(ctx)
		if err != nil {
			return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "mzt conductor-status shows why",
				"etcd does not answer: %v", err), true
		}
		return reply, nil, true
	case *messages.FleetStatusRequest:
		if f == nil {
			return nil, errNotMember, true
		}
		reply, err := f.Status(ctx)
		return reply, err, true
	case *messages.FleetTopRequest:
		if f == nil {
			return nil, errNotMember, true
		}
		reply, err := d.fleetTop(ctx, f)
		return reply, err, true
	case *messages.JobStatusRequest:
		if f == nil {
			return nil, nil, false
		}
		reply, err := d.askProto(d.deps.Jobs, r)
		if !isNotFound(err) {
			return reply, err, true
		}
		reply, err = d.fleetRoute(ctx, f, r.GetJobId(), err, false, func(c messagesconnect.ConductorClient) (proto.Message, error) {
			res, err := c.Job(ctx, connect.NewRequest(r))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		})
		if connect.CodeOf(err) == connect.CodeNotFound || isNotFound(err) {
			if js := endedStatus(ctx, f, r.GetJobId()); js != nil {
				return js, nil, true
			}
		}
		return reply, err, true
	case *messages.JobControlRequest:
		if f == nil {
			return nil, nil, false
		}
		reply, err := d.askProto(d.deps.Jobs, r)
		if !isNotFound(err) {
			return reply, err, true
		}
		if r.GetAction() == messages.JobAction_JOB_ACTION_CANCEL {
			switch cerr := f.CancelQueued(ctx, r.GetJobId()); {
			case cerr == nil:
				return &messages.JobControlResponse{JobId: r.GetJobId(), Status: string(messages.JobCancelled)}, nil, true
			case !errors.Is(cerr, fleet.ErrClaimed) && !errors.Is(cerr, fleet.ErrNotFound):
				return nil, cerr, true
			}
		}
		reply, err = d.fleetRoute(ctx, f, r.GetJobId(), err, false, func(c messagesconnect.ConductorClient) (proto.Message, error) {
			res, err := c.Control(ctx, connect.NewRequest(r))
			if err != nil {
				return nil, err
			}
			return res.Msg, nil
		})
		return reply, err, true
	case *messages.LogsRequest:
		if f == nil {
			return nil, nil, false
		}
		err := d.streamLogs(ctx, r, send)
		if !isNotFound(err) {
			return nil, err, true
		}
		_, err = d.fleetRoute(ctx, f, r.GetJobId(), err, r.GetFollow(), func(c messagesconnect.ConductorClient) (proto.Message, error) {
			stream, err := c.Logs(ctx, connect.NewRequest(r))
			if err != nil {
				return nil, err
			}
			return nil, relayStream(stream, send)
		})
		return nil, err, true
	case *messages.BundleRequest:
		if f == nil {
			return nil, errNotMember, true
		}
		return nil, sendBundle(f, r.GetDigest(), send), true
	case *messages.EventsRequest:
		if f == nil || r.GetJobId() == "" {
			return nil, nil, false
		}
		err := d.streamEvents(ctx, r, send)
		if !isNotFound(err) {
			return nil, err, true
		}
		// The owner's events, seq numbers and all: a follower that resumes
		// with after_seq asks the same owner again through this member.
		reply, err := d.fleetRoute(ctx, f, r.GetJobId(), err, r.GetFollow(), func(c messagesconnect.ConductorClient) (proto.Message, error) {
			stream, err := c.Events(ctx, connect.NewRequest(r))
			if err != nil {
				return nil, err
			}
			return nil, relayStream(stream, send)
		})
		if js, ok := reply.(*messages.JobStatus); ok && err == nil {
			// Queued, claimed by nobody yet: no member has its events.
			return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_STATE, "mzt fleet list shows when a member runs it",
				"job %s is queued for the fleet and has no events until a member claims it", js.GetJob().GetId()), true
		}
		return nil, err, true
	}
	return nil, nil, false
}

// endedStatus is the status of a fleet job whose member keeps no record of
// it (it refused the job's score or bundle, or its history was cleaned),
// from the fleet's end record; nil when there is none.
func endedStatus(ctx context.Context, f Fleet, id string) *messages.JobStatus {
	e, found, err := f.Ended(ctx, id)
	if err != nil || !found {
		return nil
	}
	why := fmt.Sprintf("%s on fleet member %s, which keeps no record of it", e.State, e.Member)
	if e.Reason != "" {
		why += ": " + e.Reason
	}
	return &messages.JobStatus{Job: &messages.JobInfo{Id: id, Status: e.State, FinishedAtUnixNano: e.Finished.UnixNano(),
		Error: why}}
}

func isNotFound(err error) bool {
	var me *messages.Error
	return errors.As(err, &me) && me.GetCode() == messages.ErrorCode_ERROR_CODE_NOT_FOUND
}

// fleetSubmit queues a score for the fleet with its prompt files.
func (d *dispatcher) fleetSubmit(ctx context.Context, f Fleet, r *messages.SubmitJobRequest) (proto.Message, error) {
	sc, _, err := score.Read(r.GetScorePath(), r.GetScoreSource(), score.ReadOptions{AnyInstrument: true,
		JobID: r.GetJobId(), MaxSheets: score.NoSheetLimit})
	if err != nil {
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "mzt validate "+r.GetScorePath(), "%v", err)
	}
	j := fleet.Job{ID: sc.ID, Score: filepath.Base(r.GetScorePath()), Bundle: fleet.Bundle{Source: r.GetScoreSource()},
		Priority: r.GetPriority(), Replace: sc.FleetReplace, User: currentUser()}
	seen := map[string]bool{}
	for _, st := range sc.Stages {
		insts := st.Instruments
		if len(insts) == 0 {
			insts = []string{st.Instrument}
		}
		for _, in := range insts {
			if !seen[in] {
				seen[in] = true
				j.Instruments = append(j.Instruments, in)
			}
		}
	}
	for _, file := range r.GetFiles() {
		j.Files = append(j.Files, fleet.File{Path: file.GetPath(), Content: file.GetContent()})
	}
	switch err := f.Submit(ctx, j); {
	case errors.Is(err, fleet.ErrExists):
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE, "mzt fleet list, or mzt run --fleet --id NEW_ID",
			"fleet job %s is already queued or running", j.ID)
	case errors.Is(err, fleet.ErrTooLarge):
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED, "make the prompt files smaller, or run the job here without --fleet", "%v", err)
	case err != nil:
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "mzt conductor-status shows whether etcd is reachable",
			"cannot queue the job for the fleet: %v", err)
	}
	return &messages.SubmitJobResponse{JobId: j.ID, Status: fleet.StateQueued, SheetsTotal: int64(len(sc.Sheets()))}, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// fleetRoute asks the member that owns a fleet job; notFound is the local
// answer, returned when the job is no fleet job or its member is this one.
// follow: the call is a followed stream, which may wait long for its first
// item (the client's leaving ends it, not a timeout).
func (d *dispatcher) fleetRoute(ctx context.Context, f Fleet, id string, notFound error, follow bool,
	call func(messagesconnect.ConductorClient) (proto.Message, error)) (proto.Message, error) {
	member, addr, state, err := f.Where(ctx, id)
	switch {
	case errors.Is(err, fleet.ErrNotFound):
		return nil, notFound
	case err != nil:
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "mzt conductor-status shows whether etcd is reachable",
			"job %s is not here and etcd cannot say where it runs: %v", id, err)
	case member == "" && state == fleet.StateQueued:
		return &messages.JobStatus{Job: &messages.JobInfo{Id: id, Status: string(messages.JobQueued),
			Error: "queued for the fleet: no member has claimed it yet"}}, nil
	case member == f.Name():
		return nil, notFound
	case addr == "":
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED, "set [api] listen (or [fleet] advertise) on every member",
			"job %s runs on fleet member %s, which cannot be asked: it is not registered now, or serves no Conductor service", id, member)
	}
	if d.deps.FleetTLS == nil {
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED, "set [api] ca/cert/key in conductor.toml",
			"job %s runs on fleet member %s: this conductor has no certificate to ask it with", id, member)
	}
	tlsCfg, err := d.deps.FleetTLS()
	if err != nil {
		return nil, err
	}
	c, done := memberClient(tlsCfg, addr, follow)
	defer done()
	reply, err := call(c)
	if err != nil {
		return nil, fmt.Errorf("fleet member %s (%s): %w", member, addr, err)
	}
	return reply, nil
}

// memberClient speaks the Conductor service to another member with mutual TLS.
// done closes its connections. A stream's headers come with its first
// item, so a followed stream has no header timeout.
func memberClient(cfg *tls.Config, addr string, follow bool) (c messagesconnect.ConductorClient, done func()) {
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: 30 * time.Second}
	if follow {
		tr.ResponseHeaderTimeout = 0
	}
	return messagesconnect.NewConductorClient(&http.Client{Transport: tr}, "https://"+addr), tr.CloseIdleConnections
}

func (d *dispatcher) fleetHealth() *messages.FleetHealth {
	if d.deps.Fleet == nil {
		return nil
	}
	return d.deps.Fleet.Health()
}

// fleetTop asks every live member for its active jobs, in parallel, each
// within a few seconds; this member answers from its own snapshot.
func (d *dispatcher) fleetTop(ctx context.Context, f Fleet) (proto.Message, error) {
	st, err := f.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := &messages.FleetTop{Members: make([]*messages.FleetTopMember, len(st.GetMembers()))}
	var wg sync.WaitGroup
	for i, m := range st.GetMembers() {
		tm := &messages.FleetTopMember{Name: m.GetName(), Address: m.GetAddress()}
		out.Members[i] = tm
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					tm.Error = fmt.Sprintf("internal error: %v", r)
				}
			}()
			snap, err := d.memberTop(ctx, f, tm)
			if err != nil {
				tm.Error = err.Error()
				return
			}
			tm.Jobs, tm.Pressure = snap.GetJobs(), snap.GetConductor().GetPressure()
			tm.RunningSheets = snap.GetConductor().GetRunningSheets()
		}()
	}
	wg.Wait()
	return out, nil
}

func (d *dispatcher) memberTop(ctx context.Context, f Fleet, m *messages.FleetTopMember) (*messages.TopSnapshot, error) {
	if m.GetName() == f.Name() {
		snap, err := d.top()
		if err != nil {
			return nil, err
		}
		return snap.(*messages.TopSnapshot), nil
	}
	switch {
	case m.GetAddress() == "":
		return nil, errors.New("no Conductor service address ([api] listen)")
	case d.deps.FleetTLS == nil:
		return nil, errors.New("this conductor has no certificate to ask it with ([api] ca/cert/key)")
	}
	tlsCfg, err := d.deps.FleetTLS()
	if err != nil {
		return nil, err
	}
	c, done := memberClient(tlsCfg, m.GetAddress(), false)
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, err := c.Top(ctx, connect.NewRequest(&messages.TopRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// relayStream passes every message of a stream routed to the job's member
// on to this member's client, until it ends or the client goes.
func relayStream[T any, PT interface {
	*T
	proto.Message
}](stream *connect.ServerStreamForClient[T], send func(proto.Message) error) error {
	defer stream.Close()
	for stream.Receive() {
		if err := send(PT(stream.Msg())); err != nil {
			return err
		}
	}
	return stream.Err()
}
