// Package actorclient talks to a conductor's protoactor remote endpoint
// ([remote] listen) through this process's own protoactor node. The
// Conductor service (package client) is the way to talk to a conductor; this
// transport stays for Go actor programs and client.toml's
// transport = "protoactor". It links protoactor and gRPC, so the mzt CLI
// does not import it: mzt-conductor does, and runs such commands for mzt.
package actorclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/internal/remotewire"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// MaxRemoteMessage is the largest gRPC message either end of a remote
// connection accepts (gRPC's default is 4 MiB; a big job list is larger).
const MaxRemoteMessage = remotewire.MaxMessage

// RemoteNode is this process's protoactor system with its remote server:
// one per process, shared by every connection to every conductor.
type RemoteNode struct {
	system  *actor.ActorSystem
	rem     *remote.Remote
	recv    *actor.PID
	timeout time.Duration
	tls     *tls.Config // for probes; nil = plaintext
	log     *slog.Logger
	nextID  atomic.Uint64
	sub     *eventSubscription

	mu      sync.Mutex
	calls   map[uint64]*remoteCall
	probes  map[string]*probe
	closed  bool
	stopped chan struct{}
}

type eventSubscription struct{ unsubscribe func() }

// NewRemoteNode starts the node. firstPeer (HOST:PORT) chooses the address
// to listen on when opts.Advertise is empty.
func NewRemoteNode(opts client.RemoteOptions, firstPeer string) (n *RemoteNode, err error) {
	if opts.Timeout <= 0 {
		opts.Timeout = client.DefaultRemoteTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	listen := opts.Advertise
	if listen == "" {
		listen = localHostFor(firstPeer)
	}
	n = &RemoteNode{timeout: opts.Timeout, log: opts.Log, calls: map[uint64]*remoteCall{},
		probes: map[string]*probe{}, stopped: make(chan struct{})}
	wire := remotewire.Settings{Listen: listen}
	if opts.TLS != nil {
		files := certs.Files(*opts.TLS)
		srv, err := certs.ServerConfig(files)
		if err != nil {
			return nil, err
		}
		// The conductor must name the host we dial: the CLI checks it.
		cli, err := certs.ClientConfig(files, true)
		if err != nil {
			return nil, err
		}
		n.tls = cli
		wire.ServerCreds, wire.DialCreds = credentials.NewTLS(srv), credentials.NewTLS(cli)
	}
	libLog := opts.Log.With("component", "protoactor")
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return libLog }),
		actor.WithDeadLetterRequestLogging(false))
	wire.Guard = certs.StreamGuard(certs.GuardOptions{
		Types:   []string{"mzt.v1.Envelope", "actor.DeadLetterResponse"},
		Address: n.system.Address,
		Log:     opts.Log,
	})
	cfg, err := remotewire.Config(wire)
	if err != nil {
		return nil, err
	}
	n.rem = remote.NewRemote(n.system, cfg)
	defer func() {
		// remote.Start panics when it cannot listen.
		if r := recover(); r != nil {
			err = fmt.Errorf("start the remote client on %s: %v (set listen in client.toml)", listen, r)
		}
	}()
	n.rem.Start()
	n.recv, err = n.system.Root.SpawnNamed(actor.PropsFromFunc(n.receive), "mzt-client")
	if err != nil {
		n.rem.Shutdown(false)
		return nil, fmt.Errorf("spawn the reply receiver: %w", err)
	}
	s := n.system.EventStream.Subscribe(func(evt any) {
		if t, ok := evt.(*remote.EndpointTerminatedEvent); ok {
			n.failAddress(t.Address, client.Unreachablef("lost the connection to the conductor at %s", t.Address))
		}
	})
	n.sub = &eventSubscription{unsubscribe: func() { n.system.EventStream.Unsubscribe(s) }}
	return n, nil
}

// Address is where this node receives replies.
func (n *RemoteNode) Address() string { return n.system.Address() }

// Close stops the node; calls in flight fail.
func (n *RemoteNode) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.failAll(errors.New("remote client closed"))
	n.sub.unsubscribe()
	n.rem.Shutdown(false)
	close(n.stopped)
	return nil
}

// localHostFor picks the local address that routes to peer: loopback for a
// loopback peer, else the source address the kernel would use (a UDP
// "connection" sends nothing).
func localHostFor(peer string) string {
	host, _, err := net.SplitHostPort(peer)
	if err != nil {
		return "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() && ip.To4() == nil {
		return "::1" // a conductor on IPv6 loopback may have no IPv4 to dial back on
	}
	if (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return "127.0.0.1"
	}
	c, err := net.Dial("udp", peer)
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// remoteCall collects what arrives for one correlation id. The queue is
// unbounded so that a slow reader never blocks the receiver actor.
type remoteCall struct {
	addr   string
	mu     sync.Mutex
	queue  []*messages.Envelope
	err    error
	notify chan struct{}
}

func (c *remoteCall) push(env *messages.Envelope, err error) {
	c.mu.Lock()
	if env != nil {
		c.queue = append(c.queue, env)
	} else if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *remoteCall) take() ([]*messages.Envelope, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q, c.err
}

func (n *RemoteNode) receive(ctx actor.Context) {
	var env *messages.Envelope
	switch m := ctx.Message().(type) {
	case *messages.Envelope:
		env = m
	case *actor.DeadLetterResponse:
		// The peer has no actor by the gateway's name.
		addr := m.GetTarget().GetAddress()
		n.failAddress(addr, client.Unreachablef("the endpoint at %s has no %s actor: is it an mzt conductor's [remote] listen?",
			addr, client.RemoteGatewayID))
		return
	default:
		return
	}
	n.mu.Lock()
	c := n.calls[env.GetCorrelationId()]
	n.mu.Unlock()
	if c == nil {
		if e := env.GetError(); e != nil && env.GetCorrelationId() == 0 {
			// The conductor could not tell which request this answers (it
			// did not understand it): fail every call to that sender.
			if s := ctx.Sender(); s != nil {
				n.failAddress(s.GetAddress(), &client.RemoteError{Code: e.GetCode(), Message: e.GetMessage(), Hint: e.GetHint()})
			}
		}
		return
	}
	c.push(env, nil)
}

func (n *RemoteNode) failAddress(addr string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.calls {
		if c.addr == addr {
			c.push(nil, err)
		}
	}
}

func (n *RemoteNode) failAll(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.calls {
		c.push(nil, err)
	}
}

func (n *RemoteNode) register(addr string) (uint64, *remoteCall, error) {
	id := n.nextID.Add(1)
	c := &remoteCall{addr: addr, notify: make(chan struct{}, 1)}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return 0, nil, errors.New("remote client closed")
	}
	n.calls[id] = c
	return id, c, nil
}

func (n *RemoteNode) unregister(id uint64) {
	n.mu.Lock()
	delete(n.calls, id)
	n.mu.Unlock()
}

// Conn returns a connection to the conductor at addr (HOST:PORT) through
// this node. Closing it leaves the node running.
func (n *RemoteNode) Conn(addr string) *RemoteConn {
	return &RemoteConn{node: n, addr: addr, gateway: actor.NewPID(addr, client.RemoteGatewayID)}
}

// RemoteConn is a Conn to one conductor's remote endpoint.
type RemoteConn struct {
	node    *RemoteNode
	addr    string
	gateway *actor.PID
	own     bool // Close closes the node too
}

var _ client.Conn = (*RemoteConn)(nil)

// DialRemote starts a node for one conductor; Close stops it.
func DialRemote(addr string, opts client.RemoteOptions) (*RemoteConn, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("remote address %q: want HOST:PORT", addr)
	}
	n, err := NewRemoteNode(opts, addr)
	if err != nil {
		return nil, err
	}
	c := n.Conn(addr)
	c.own = true
	return c, nil
}

// Address is the conductor's HOST:PORT.
func (c *RemoteConn) Address() string { return c.addr }

// Close closes the node when the connection owns it.
func (c *RemoteConn) Close() error {
	if c.own {
		return c.node.Close()
	}
	return nil
}

// Request sends req and waits for its reply, at most the node's timeout (or
// the context's deadline when earlier).
func (c *RemoteConn) Request(ctx context.Context, req proto.Message) (proto.Message, error) {
	timeout := c.node.timeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = time.Until(d)
	}
	return firstReply(func(fn func(proto.Message) error) error { return c.exchange(ctx, req, timeout, fn) })
}

// Stream sends req and calls fn for every body that answers it until the
// conductor ends the stream, fn returns an error, ctx ends, or the
// connection to the conductor is lost. A health request first proves,
// within the node's timeout, that answers reach us; the stream itself may
// then stay silent as long as it needs (a followed sheet that prints
// nothing), a lost connection still ending it.
func (c *RemoteConn) Stream(ctx context.Context, req proto.Message, fn func(proto.Message) error) error {
	if _, err := c.Request(ctx, &messages.HealthRequest{}); err != nil {
		return err
	}
	return c.exchange(ctx, req, 0, fn)
}

func (c *RemoteConn) exchange(ctx context.Context, req proto.Message, firstWithin time.Duration,
	fn func(proto.Message) error) (err error) {
	n := c.node
	id, call, err := n.register(c.addr)
	if err != nil {
		return err
	}
	defer n.unregister(id)
	env, err := messages.Wrap(id, req)
	if err != nil {
		return err
	}
	pr := n.probe(c.addr)
	n.system.Root.RequestWithCustomSender(c.gateway, env, n.recv)
	ended := false
	defer func() {
		if !ended {
			// Tell the conductor to stop a stream we no longer read.
			n.system.Root.RequestWithCustomSender(c.gateway, &messages.Envelope{CorrelationId: id,
				ProtocolVersion: messages.ProtocolVersion,
				Body:            &messages.Envelope_StreamEnd{StreamEnd: &messages.StreamEnd{Reason: "client left"}}}, n.recv)
		}
	}()
	var firstC <-chan time.Time // nil: no bound on the first answer
	if firstWithin > 0 {
		first := time.NewTimer(firstWithin)
		defer first.Stop()
		firstC = first.C
	}
	probeDone := pr.done
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return client.Timeoutf("conductor at %s did not answer within %s", c.addr, firstWithin.Round(100*time.Millisecond))
			}
			return fmt.Errorf("%w: %w", client.ErrTimeout, ctx.Err())
		case <-firstC:
			return client.Timeoutf("conductor at %s did not answer within %s", c.addr, firstWithin.Round(100*time.Millisecond))
		case <-probeDone:
			if pr.err != nil {
				return pr.err
			}
			probeDone = nil
		case <-call.notify:
			envs, cerr := call.take()
			for _, in := range envs {
				firstC = nil
				if e := in.GetError(); e != nil {
					ended = true
					return &client.RemoteError{Code: e.GetCode(), Message: e.GetMessage(), Hint: e.GetHint()}
				}
				if in.GetStreamEnd() != nil {
					ended = true
					return nil
				}
				body := messages.Unwrap(in)
				if body == nil {
					return fmt.Errorf("%w: the conductor at %s answered with a message this mzt does not know", client.ErrProtocol, c.addr)
				}
				if err := fn(body); err != nil {
					ended = errors.Is(err, errStop) // a unary reply is all there is
					return err
				}
			}
			if cerr != nil {
				ended = true // nobody is left to tell
				return cerr
			}
		}
	}
}

var errStop = errors.New("stop")

// firstReply runs one exchange and returns its first answer: a request is
// a stream that the caller ends after one body.
func firstReply(stream func(fn func(proto.Message) error) error) (proto.Message, error) {
	var reply proto.Message
	err := stream(func(msg proto.Message) error {
		reply = msg
		return errStop
	})
	if errors.Is(err, errStop) {
		return reply, nil
	}
	if err == nil {
		return nil, fmt.Errorf("%w: stream ended without a reply", client.ErrProtocol)
	}
	return nil, err
}
