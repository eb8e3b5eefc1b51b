package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/pki"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
)

// Target names the conductor New connects to.
type Target struct {
	clone  string
	remote string
	// cloneFromEnv: the clone is $MZT_CLONE, read when New dials, as the
	// mzt CLI reads it, so a program run under MZT_CLONE=night talks to the
	// same conductor as the mzt commands beside it.
	cloneFromEnv bool
}

// Default is the conductor the mzt CLI would talk to: the clone named by
// $MZT_CLONE if set, else this user's default one ($MARIANNE_HOME or
// ~/.marianne).
func Default() Target { return Target{cloneFromEnv: true} }

// Clone is the clone conductor NAME of this user.
func Clone(name string) Target { return Target{clone: name} }

// Remote is a conductor on another host: a [[remote]] name of client.toml,
// or HOST:PORT, reached at its [api] listen address over mutual TLS with the
// certificates client.toml names.
func Remote(name string) Target { return Target{remote: name} }

// Conductor is a typed client of the Conductor service. It is safe for
// concurrent use; requests share its connections.
type Conductor struct {
	rpc   messagesconnect.ConductorClient
	http  *http.Client
	where string // the socket or address, for messages
	local bool
	tls   *tls.Config // over the network: to say why a handshake failed
	// Protocol is the version negotiated with the conductor by New.
	Protocol uint32
	// Version is the conductor's build version.
	Version string
	// RequestTimeout bounds a unary request whose context has no deadline;
	// 0 = DefaultTimeout.
	RequestTimeout time.Duration
}

// New connects to the conductor t names and negotiates the protocol version
// (one Health round trip).
func New(ctx context.Context, t Target) (*Conductor, error) {
	c, err := dialTarget(t)
	if err != nil {
		return nil, err
	}
	h, err := c.Health(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	if h.GetNegotiatedProtocolVersion() == 0 {
		c.Close()
		return nil, fmt.Errorf("%w: the conductor at %s speaks protocol %d-%d, this client %d-%d: upgrade the older side",
			ErrUnsupported, c.where, h.GetMinProtocolVersion(), h.GetProtocolVersion(), messages.MinProtocolVersion, messages.ProtocolVersion)
	}
	c.Protocol, c.Version = h.GetNegotiatedProtocolVersion(), h.GetVersion()
	return c, nil
}

func dialTarget(t Target) (*Conductor, error) {
	if t.remote == "" {
		clone := t.clone
		if t.cloneFromEnv {
			clone = os.Getenv("MZT_CLONE")
		}
		paths, err := config.Resolve(clone)
		if err != nil {
			return nil, err
		}
		return NewLocal(paths.APISocket), nil
	}
	base, err := config.BaseHome()
	if err != nil {
		return nil, err
	}
	cc, err := config.LoadClient(base)
	if err != nil {
		return nil, err
	}
	rt, err := cc.Target(t.remote)
	if err != nil {
		return nil, err
	}
	if rt.CA == "" {
		return nil, fmt.Errorf("remote %s: the api endpoint needs mutual TLS: set ca, cert and key in %s (mzt certs init makes them)",
			t.remote, config.ClientFile)
	}
	cfg, err := pki.ClientConfig(pki.Files{CA: rt.CA, Cert: rt.Cert, Key: rt.Key}, true)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", t.remote, err)
	}
	c := NewRemoteAPI(rt.Address, cfg)
	c.RequestTimeout = time.Duration(cc.Timeout)
	return c, nil
}

// NewLocal is a client of the service on a conductor's api.sock, speaking
// HTTP/2 without TLS (the socket admits only its owner's uid). It does not
// connect until the first request.
func NewLocal(socket string) *Conductor {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols: &p,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		IdleConnTimeout: time.Minute,
	}
	hc := &http.Client{Transport: tr}
	return &Conductor{rpc: messagesconnect.NewConductorClient(hc, "http://mzt", connect.WithGRPC()),
		http: hc, where: socket, local: true}
}

// NewRemoteAPI is a client of the service at addr (HOST:PORT) over mutual
// TLS. The conductor never dials back: it works through NAT and firewalls.
func NewRemoteAPI(addr string, cfg *tls.Config) *Conductor {
	host, _, _ := net.SplitHostPort(addr)
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS13}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: cfg, IdleConnTimeout: time.Minute,
		TLSHandshakeTimeout: 10 * time.Second}
	hc := &http.Client{Transport: tr}
	return &Conductor{rpc: messagesconnect.NewConductorClient(hc, "https://"+addr, connect.WithGRPC()),
		http: hc, where: addr, tls: cfg}
}

// Close drops the client's idle connections.
func (c *Conductor) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// bounded bounds a unary request the caller left unbounded.
func (c *Conductor) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout())
}

func (c *Conductor) timeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return DefaultTimeout
}

// Health says whether the conductor is up and which protocol both speak.
func (c *Conductor) Health(ctx context.Context) (*messages.HealthResponse, error) {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	res, err := c.rpc.Health(ctx, connect.NewRequest(&messages.HealthRequest{
		MinProtocolVersion: messages.MinProtocolVersion, MaxProtocolVersion: messages.ProtocolVersion}))
	return msgOf(res, c.fail(ctx, err))
}

// Status is the conductor's own state (mzt conductor-status).
func (c *Conductor) Status(ctx context.Context) (*messages.ConductorStatus, error) {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	res, err := c.rpc.Status(ctx, connect.NewRequest(&messages.ConductorStatusRequest{}))
	return msgOf(res, c.fail(ctx, err))
}

// Job is one job with its sheets.
func (c *Conductor) Job(ctx context.Context, id string) (*messages.JobStatus, error) {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	res, err := c.rpc.Job(ctx, connect.NewRequest(&messages.JobStatusRequest{JobId: id}))
	return msgOf(res, c.fail(ctx, err))
}

// List is the active jobs, and with all the finished ones too.
func (c *Conductor) List(ctx context.Context, all bool) ([]*messages.JobInfo, error) {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	res, err := c.rpc.List(ctx, connect.NewRequest(&messages.ListJobsRequest{All: all}))
	list, err := msgOf(res, c.fail(ctx, err))
	return list.GetJobs(), err
}

// Cancel cancels a job; Pause and Resume pause and resume one.
func (c *Conductor) Cancel(ctx context.Context, id string) (*messages.JobControlResponse, error) {
	return c.control(ctx, id, messages.JobAction_JOB_ACTION_CANCEL)
}

// Pause stops starting new sheets of a job (running ones finish).
func (c *Conductor) Pause(ctx context.Context, id string) (*messages.JobControlResponse, error) {
	return c.control(ctx, id, messages.JobAction_JOB_ACTION_PAUSE)
}

// Resume lets a paused job start sheets again.
func (c *Conductor) Resume(ctx context.Context, id string) (*messages.JobControlResponse, error) {
	return c.control(ctx, id, messages.JobAction_JOB_ACTION_RESUME)
}

func (c *Conductor) control(ctx context.Context, id string, action messages.JobAction) (*messages.JobControlResponse, error) {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	res, err := c.rpc.Control(ctx, connect.NewRequest(&messages.JobControlRequest{JobId: id, Action: action}))
	return msgOf(res, c.fail(ctx, err))
}

func msgOf[T any](res *connect.Response[T], err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}
