package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Header keys the guard stamps on every message it lets through,
// overwriting whatever the peer put there: actors trust only these.
const (
	HeaderRole = "mzt-role" // RoleFull | RoleReadOnly | RolePlaintext
	HeaderPeer = "mzt-peer" // the peer certificate's common name ("" without TLS)
)

// GuardOptions say what a protoactor remote endpoint accepts.
type GuardOptions struct {
	// Types are the message type names that may arrive (protobuf full
	// names, e.g. "mzt.v1.Envelope", "actor.Terminated").
	Types []string
	// Target reports whether a local actor id may be addressed by a peer;
	// nil allows every id.
	Target func(id string) bool
	// Address is this system's advertised address. Every target is
	// rewritten to it: a peer may have dialled us by another name, and must
	// not make us relay messages to a third host.
	Address func() string
	// Placeholder, when set, turns a message of a type that is not allowed
	// into a message of its own (typically an error for the target to
	// answer the sender with). Without it such messages are dropped.
	Placeholder func(typeName string) proto.Message
	// PeerGone, when set, is called with the address a peer announced
	// (protoactor's ConnectRequest) once its stream to us ends: the peer
	// left or died, though we may have no connection to it that would say so.
	PeerGone func(address string)
	// Peers, when set, binds announced addresses to their streams: a
	// stream announcing an address it may not have is refused, and a
	// message whose sender is not at the stream's address is dropped.
	Peers *PeerBook
	Log   *slog.Logger
}

// StreamGuard is a gRPC stream interceptor for protoactor's Remoting
// service. protoactor trusts every peer completely: an unregistered type name,
// an out-of-range index or serializer id crashes the process, any peer may
// stop any actor, and actors are told nothing about who sent a message. The
// guard rewrites each incoming batch before protoactor sees it: entries with
// bad indices, foreign targets or other serializers are dropped, types not
// allowed are replaced (Placeholder) or dropped, and every entry carries the
// peer's role and name from its verified certificate. With Peers, the
// address a peer announces is bound to its stream (PeerBook) and entries
// from any other sender address are dropped: answers go only where the
// authenticated peer is.
func StreamGuard(opts GuardOptions) grpc.StreamServerInterceptor {
	allowed := map[string]bool{}
	for _, t := range opts.Types {
		allowed[t] = true
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		role, name := PeerRole(ss)
		gs := &guardedStream{ServerStream: ss, opts: &opts, allowed: allowed, role: role, name: name}
		if leaf := peerLeaf(ss); leaf != nil {
			gs.tls, gs.leaf = true, sha256.Sum256(leaf.Raw)
		}
		// protoactor may end the stream without reading to its end (a
		// batch it cannot deliver): the peer is gone all the same.
		defer gs.gone()
		return handler(srv, gs)
	}
}

// peerLeaf is the verified certificate of the peer of a stream, nil without TLS.
func peerLeaf(ss grpc.ServerStream) *x509.Certificate {
	p, ok := peer.FromContext(ss.Context())
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return ti.State.VerifiedChains[0][0]
}

// PeerRole reads the role of the peer of a stream: from its verified
// certificate, or plaintext when the connection has no TLS (a loopback
// endpoint without certificates: any local user could reach it).
func PeerRole(ss grpc.ServerStream) (role, name string) {
	leaf := peerLeaf(ss)
	if leaf == nil {
		return RolePlaintext, ""
	}
	return Role(leaf), leaf.Subject.CommonName
}

type guardedStream struct {
	grpc.ServerStream
	opts       *GuardOptions
	allowed    map[string]bool
	role, name string
	tls        bool
	leaf       [32]byte // SHA-256 of the peer's certificate
	peerAddr   string   // announced in the stream's ConnectRequest (and bound, with Peers)
}

func (s *guardedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		s.gone()
		return err
	}
	if rm, ok := m.(*remote.RemoteMessage); ok {
		if sc := rm.GetConnectRequest().GetServerConnection(); sc != nil {
			if err := s.announce(sc.GetAddress()); err != nil {
				s.opts.Log.Warn("remote peer refused", "peer", s.name, "err", err)
				s.gone()
				return status.Error(codes.PermissionDenied, err.Error())
			}
		}
		if b := rm.GetMessageBatch(); b != nil {
			s.clean(b)
		}
	}
	return nil
}

// announce takes addr as the address replies to this stream go to.
func (s *guardedStream) announce(addr string) error {
	if addr == s.peerAddr {
		return nil
	}
	if s.peerAddr != "" && s.opts.Peers != nil {
		return fmt.Errorf("stream announced %s after %s", addr, s.peerAddr)
	}
	if s.opts.Peers != nil {
		if err := s.opts.Peers.claim(s.Context(), addr, s); err != nil {
			return err
		}
	}
	s.peerAddr = addr
	return nil
}

// gone releases the stream's address and tells PeerGone, once.
func (s *guardedStream) gone() {
	addr := s.peerAddr
	s.peerAddr = ""
	if addr == "" {
		return
	}
	// Another stream of the same certificate may have taken the address
	// over: its requests are not this stream's to end.
	if s.opts.Peers != nil && !s.opts.Peers.release(addr, s) {
		return
	}
	if s.opts.PeerGone != nil {
		s.opts.PeerGone(addr)
	}
}

// clean rewrites b in place so that protoactor's reader can deliver every
// entry left without panicking or reaching an actor it must not.
func (s *guardedStream) clean(b *remote.MessageBatch) {
	kept := b.Envelopes[:0]
	for _, e := range b.Envelopes {
		if why := s.check(b, e); why != "" {
			s.opts.Log.Warn("remote message dropped", "peer", s.name, "reason", why)
			continue
		}
		e.MessageHeader = &remote.MessageHeader{HeaderData: map[string]string{HeaderRole: s.role, HeaderPeer: s.name}}
		kept = append(kept, e)
	}
	clear(b.Envelopes[len(kept):])
	b.Envelopes = kept
}

func (s *guardedStream) check(b *remote.MessageBatch, e *remote.MessageEnvelope) string {
	if e == nil {
		return "empty entry"
	}
	if e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames) {
		return fmt.Sprintf("type index %d out of range", e.TypeId)
	}
	if e.Target < 0 || int(e.Target) >= len(b.Targets) || b.Targets[e.Target] == nil {
		return fmt.Sprintf("target index %d out of range", e.Target)
	}
	if e.Sender < 0 || int(e.Sender) > len(b.Senders) || (e.Sender > 0 && b.Senders[e.Sender-1] == nil) {
		return fmt.Sprintf("sender index %d out of range", e.Sender)
	}
	if e.SerializerId != 0 {
		return fmt.Sprintf("serializer %d is not accepted (protobuf only)", e.SerializerId)
	}
	if s.opts.Peers != nil && e.Sender > 0 {
		// Replies go to the sender: only the stream's own address may be one.
		if from := b.Senders[e.Sender-1].GetAddress(); s.peerAddr == "" || from != s.peerAddr {
			return fmt.Sprintf("sender address %q is not the address this peer announced (%q)", from, s.peerAddr)
		}
	}
	target := b.Targets[e.Target]
	if s.opts.Address != nil {
		target.Address = s.opts.Address()
	}
	if s.opts.Target != nil && !s.opts.Target(target.GetId()) {
		return fmt.Sprintf("target actor %q may not be addressed remotely", target.GetId())
	}
	typeName := b.TypeNames[e.TypeId]
	_, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typeName))
	if err == nil && s.allowed[typeName] {
		return ""
	}
	if s.opts.Placeholder == nil || e.Sender == 0 {
		return fmt.Sprintf("message type %q is not accepted", typeName)
	}
	ph := s.opts.Placeholder(typeName)
	data, err := proto.Marshal(ph)
	if err != nil {
		return fmt.Sprintf("message type %q is not accepted (and its placeholder: %v)", typeName, err)
	}
	s.opts.Log.Warn("remote message of an unknown type answered with an error", "peer", s.name, "type", typeName)
	e.TypeId = typeIndex(b, string(proto.MessageName(ph)))
	e.MessageData = data
	return ""
}

func typeIndex(b *remote.MessageBatch, name string) int32 {
	for i, n := range b.TypeNames {
		if n == name {
			return int32(i)
		}
	}
	b.TypeNames = append(b.TypeNames, name)
	return int32(len(b.TypeNames) - 1)
}

// LoggedServerCreds is TLS for a listening endpoint that logs every refused
// handshake (a plaintext peer, a certificate from another CA), which gRPC
// would otherwise only tell its own (silenced) logger.
func LoggedServerCreds(cfg *tls.Config, log *slog.Logger) credentials.TransportCredentials {
	return loggedCreds{TransportCredentials: credentials.NewTLS(cfg), log: log}
}

type loggedCreds struct {
	credentials.TransportCredentials
	log *slog.Logger
}

func (c loggedCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	nc, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.log.Warn("remote peer refused: TLS handshake failed", "from", conn.RemoteAddr().String(), "err", err)
	}
	return nc, info, err
}

func (c loggedCreds) Clone() credentials.TransportCredentials {
	return loggedCreds{TransportCredentials: c.TransportCredentials.Clone(), log: c.log}
}
