package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// RemoteName is the name the daemon spawns the remote gateway under; its id,
// RemoteID, is the well-known address other hosts send requests to.
const (
	RemoteName = "remote"
	RemoteID   = "daemon/" + RemoteName
)

// Requests in flight (followed logs and events included) that all remote
// peers together, and one certificate alone (one address without TLS), may
// have; beyond either a request is answered BUSY, so that one peer cannot
// starve the others.
const (
	maxRemoteInFlight = 256
	maxPeerInFlight   = 64
)

// readOnly lists the requests a read-only certificate may send (by full
// name, so that the list does not depend on which requests this build serves).
var readOnly = map[string]bool{
	"mzt.v1.HealthRequest": true, "mzt.v1.ConductorStatusRequest": true, "mzt.v1.JobStatusRequest": true,
	"mzt.v1.ListJobsRequest": true, "mzt.v1.LogsRequest": true, "mzt.v1.EventsRequest": true,
	"mzt.v1.InsightsRequest": true, "mzt.v1.TopRequest": true,
	// The fleet's views: they read etcd and other members, change nothing.
	"mzt.v1.FleetListRequest": true, "mzt.v1.FleetStatusRequest": true, "mzt.v1.FleetTopRequest": true,
}

// plaintextOnly lists what a peer without a certificate may send: whether
// the conductor is up, never a job's logs or events (any local user could be
// that peer, and the socket admits only the conductor's own uid).
var plaintextOnly = map[string]bool{"mzt.v1.HealthRequest": true, "mzt.v1.ConductorStatusRequest": true}

// Permitted reports whether a peer with role may send req.
func Permitted(role string, req proto.Message) bool {
	name := string(proto.MessageName(req))
	switch role {
	case certs.RoleFull:
		return true
	case certs.RoleReadOnly:
		if g, ok := req.(*messages.GroupRequest); ok {
			return g.GetAction() == messages.GroupAction_GROUP_ACTION_LIST // `mzt group list`; add and rm change the queue
		}
		return readOnly[name]
	default:
		return plaintextOnly[name]
	}
}

// RemotePlaceholder is what the remote guard puts in place of a message of a
// type this conductor does not accept: an Error the remote gateway sends
// back to the peer, so that the peer learns why instead of waiting.
func RemotePlaceholder(typeName string) proto.Message {
	return &messages.Envelope{ProtocolVersion: messages.ProtocolVersion, Body: &messages.Envelope_Error{
		Error: messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED,
			"send mzt.v1.Envelope requests, from the same mzt version as the conductor",
			"this conductor does not accept messages of type %q", typeName)}}
}

// RemoteActor answers requests that arrive over protoactor remote: each is an
// Envelope from a peer actor (the sender), answered by the same dispatcher
// as the socket, with replies and stream items sent back to that sender.
// It keeps one cancel function per request in flight, so that a peer that
// ends a stream (StreamEnd) or goes away (its endpoint terminates) leaves
// nothing running.
type RemoteActor struct {
	deps     *Deps
	disp     *dispatcher
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	inflight map[remoteKey]inflightReq
	sub      *eventstream.Subscription
}

// remoteKey names a request in flight by its sender (whose address the
// guard has bound to the peer's authenticated stream) and correlation id.
type remoteKey struct {
	addr, id string
	corr     uint64
}

type inflightReq struct {
	cancel context.CancelFunc
	who    string // what the per-peer limit counts: the certificate, else the address
}

type remoteDone struct{ key remoteKey }

type endpointGone struct{ addr string }

// RemoteProps builds the remote gateway; the daemon spawns it as RemoteName
// when [remote] listen is set (and only after remote has started, so that
// its PID carries the advertised address).
func RemoteProps(deps *Deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &RemoteActor{deps: deps} })
}

func (a *RemoteActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.log = a.deps.Log.With("endpoint", "remote")
		a.disp = &dispatcher{deps: a.deps, root: ctx.ActorSystem().Root, timeout: a.deps.RequestTimeout}
		a.ctx, a.cancel = context.WithCancel(context.Background())
		a.inflight = map[remoteKey]inflightReq{}
		root, self := ctx.ActorSystem().Root, ctx.Self()
		a.sub = ctx.ActorSystem().EventStream.Subscribe(func(evt any) {
			if t, ok := evt.(*remote.EndpointTerminatedEvent); ok {
				root.Send(self, &endpointGone{addr: t.Address})
			}
		})
	case *actor.Stopping, *actor.Restarting:
		if a.cancel != nil {
			a.cancel()
		}
		if a.sub != nil {
			ctx.ActorSystem().EventStream.Unsubscribe(a.sub)
			a.sub = nil
		}
	case *messages.Envelope:
		a.onEnvelope(ctx, m)
	case *remoteDone:
		delete(a.inflight, m.key)
	case *endpointGone:
		n := 0
		for k, r := range a.inflight {
			if k.addr == m.addr {
				r.cancel()
				n++
			}
		}
		if n > 0 {
			a.log.Info("remote peer went away; its requests are cancelled", "peer_address", m.addr, "requests", n)
		}
	}
}

func (a *RemoteActor) onEnvelope(ctx actor.Context, env *messages.Envelope) {
	sender := ctx.Sender()
	if sender == nil {
		a.log.Warn("remote request without a sender dropped (send it with yourself as the sender)")
		return
	}
	id := env.GetCorrelationId()
	key := remoteKey{addr: sender.GetAddress(), id: sender.GetId(), corr: id}
	hdr := ctx.MessageHeader()
	role, peer := hdr.Get(certs.HeaderRole), hdr.Get(certs.HeaderPeer)
	root := ctx.ActorSystem().Root
	reject := func(e *messages.Error) {
		root.Send(sender, &messages.Envelope{CorrelationId: id, ProtocolVersion: messages.ProtocolVersion,
			Body: &messages.Envelope_Error{Error: e}})
	}
	if env.GetStreamEnd() != nil { // the peer abandons a stream
		if r, ok := a.inflight[key]; ok {
			r.cancel()
		}
		return
	}
	if e := env.GetError(); e != nil { // the guard's answer to an unknown message type
		reject(e)
		return
	}
	if env.GetProtocolVersion() != messages.ProtocolVersion {
		reject(messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED,
			"use the same mzt for the CLI and the conductor (mzt restart after an upgrade)",
			"protocol version %d is not spoken here (this conductor speaks %d)",
			env.GetProtocolVersion(), messages.ProtocolVersion))
		return
	}
	req := messages.Unwrap(env)
	if req == nil {
		reject(messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED,
			"use the same mzt version on every host", "this conductor does not know the request it was sent"))
		return
	}
	if !Permitted(role, req) {
		reject(refusal(role, peer, req, a.log))
		return
	}
	if _, ok := a.inflight[key]; ok {
		reject(messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "", "correlation id %d is already in use", id))
		return
	}
	who := "address " + key.addr
	if peer != "" {
		who = fmt.Sprintf("certificate %q", peer)
	}
	if mine := a.inFlightOf(who); len(a.inflight) >= maxRemoteInFlight || mine >= maxPeerInFlight {
		reject(messages.NewError(messages.ErrorCode_ERROR_CODE_BUSY, "end some followed logs or event streams, or retry in a moment",
			"too many remote requests in flight (%d from %s, %d in all)", mine, who, len(a.inflight)))
		return
	}
	rctx, cancel := context.WithCancel(a.ctx)
	a.inflight[key] = inflightReq{cancel: cancel, who: who}
	if a.log.Enabled(context.Background(), slog.LevelDebug) {
		args := "(large)"
		if proto.Size(req) <= 256 {
			args = fmt.Sprint(req)
		}
		a.log.Debug("remote request", "peer", peer, "role", role, "peer_address", key.addr,
			"request", proto.MessageName(req), "args", args)
	}
	self, disp, log, home := ctx.Self(), a.disp, a.log, a.deps.Paths.Home
	go func() {
		var final *messages.Envelope
		if sub, ok := req.(*messages.SubmitJobRequest); ok {
			final = serveRemoteSubmit(rctx, disp, root, sender, id, sub, home, peer, log)
		} else {
			final = serveRemote(rctx, disp, root, sender, id, req, log)
		}
		cancel()
		// Free the id before the peer can see the last answer, so that an
		// id it reuses after that answer is never "in use".
		root.Send(self, &remoteDone{key: key})
		if final != nil {
			root.Send(sender, final)
		}
	}()
}

// refusal says why a peer's role does not allow req, and logs it.
func refusal(role, peer string, req proto.Message, log *slog.Logger) *messages.Error {
	if role == certs.RoleReadOnly {
		log.Warn("remote request refused: read-only peer", "peer", peer, "request", proto.MessageName(req))
		return messages.NewError(messages.ErrorCode_ERROR_CODE_PERMISSION_DENIED,
			"use a client certificate issued without --read-only",
			"certificate %q is read-only here: %s needs a full client certificate", peer, shortName(req))
	}
	log.Warn("remote request refused: peer without a certificate", "request", proto.MessageName(req))
	return messages.NewError(messages.ErrorCode_ERROR_CODE_PERMISSION_DENIED,
		"give the conductor remote.ca, remote.cert and remote.key, and this client a certificate from mzt certs issue",
		"this endpoint has no TLS: it answers health and conductor-status only, and %s needs a client certificate", shortName(req))
}

func (a *RemoteActor) inFlightOf(who string) int {
	n := 0
	for _, r := range a.inflight {
		if r.who == who {
			n++
		}
	}
	return n
}

func shortName(m proto.Message) string { return string(m.ProtoReflect().Descriptor().Name()) }

// serveRemote is Server.serveRequest for a remote peer: the same answers,
// sent as Envelopes to the peer's actor instead of frames on a connection.
// Stream items are sent as they come; the last answer (reply, Error or
// StreamEnd) is returned for the caller to send, nil when the peer left.
func serveRemote(ctx context.Context, h Handler, root *actor.RootContext, to *actor.PID, id uint64,
	req proto.Message, log *slog.Logger) (final *messages.Envelope) {
	errEnv := func(e *messages.Error) *messages.Envelope {
		return &messages.Envelope{CorrelationId: id, ProtocolVersion: messages.ProtocolVersion,
			Body: &messages.Envelope_Error{Error: e}}
	}
	defer func() {
		if r := recover(); r != nil {
			log.Error("remote request handler panicked", "request", fmt.Sprintf("%T", req), "panic", r)
			final = errEnv(messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "see the conductor log",
				"internal error while serving %T", req))
		}
	}()
	send := func(msg proto.Message) error {
		if err := ctx.Err(); err != nil {
			return err // the peer left or ended the stream
		}
		env, err := messages.Wrap(id, msg)
		if err != nil {
			return err
		}
		root.Send(to, env)
		return nil
	}
	reply, err := h.Handle(ctx, req, send)
	var e *messages.Error
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		log.Debug("remote stream ended by the peer", "request", fmt.Sprintf("%T", req))
		return nil
	case errors.As(err, &e):
		return errEnv(e)
	case errors.Is(err, context.DeadlineExceeded):
		return errEnv(messages.NewError(messages.ErrorCode_ERROR_CODE_TIMEOUT, "", "the conductor did not answer %T in time", req))
	case err != nil:
		return errEnv(messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "%v", err))
	case reply != nil:
		env, err := messages.Wrap(id, reply)
		if err != nil {
			return errEnv(messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "%v", err))
		}
		return env
	default:
		return &messages.Envelope{CorrelationId: id, ProtocolVersion: messages.ProtocolVersion,
			Body: &messages.Envelope_StreamEnd{StreamEnd: &messages.StreamEnd{}}}
	}
}
