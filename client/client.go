// Package client is the one place that dials a conductor: its socket
// (Client), its Conductor service (Conductor: New, Submit, Wait, Events...)
// or its protoactor endpoint (RemoteConn). Timeouts, the protocol check and
// the "conductor is not running" error live here, and error codes from the
// wire turn back into sentinel errors callers can test with errors.Is.
package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// Sentinel errors for the error codes a conductor sends.
var (
	ErrNotRunning    = errors.New("conductor is not running")
	ErrJobNotFound   = errors.New("job not found")
	ErrAlreadyActive = errors.New("job is already active")
	ErrRefused       = errors.New("refused")
	ErrInvalidScore  = errors.New("invalid score")
	ErrInvalidState  = errors.New("invalid state")
	ErrTimeout       = errors.New("request timed out")
	ErrUnsupported   = errors.New("unsupported request")
	ErrProtocol      = errors.New("protocol error")
	ErrStorage       = errors.New("storage error")
)

var codeErrors = map[messages.ErrorCode]error{
	messages.ErrorCode_ERROR_CODE_NOT_FOUND:       ErrJobNotFound,
	messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE:  ErrAlreadyActive,
	messages.ErrorCode_ERROR_CODE_REFUSED:         ErrRefused,
	messages.ErrorCode_ERROR_CODE_INVALID_SCORE:   ErrInvalidScore,
	messages.ErrorCode_ERROR_CODE_INVALID_STATE:   ErrInvalidState,
	messages.ErrorCode_ERROR_CODE_TIMEOUT:         ErrTimeout,
	messages.ErrorCode_ERROR_CODE_UNSUPPORTED:     ErrUnsupported,
	messages.ErrorCode_ERROR_CODE_BAD_REQUEST:     ErrProtocol,
	messages.ErrorCode_ERROR_CODE_FRAME_TOO_LARGE: ErrProtocol,
	messages.ErrorCode_ERROR_CODE_STORAGE:         ErrStorage,
}

// RemoteError is an error the conductor answered with.
type RemoteError struct {
	Code    messages.ErrorCode
	Message string
	Hint    string
}

func (e *RemoteError) Error() string { return e.Message }

// Is lets errors.Is(err, ErrJobNotFound) work on a RemoteError.
func (e *RemoteError) Is(target error) bool { return codeErrors[e.Code] == target }

// Client is one connection to a conductor. Requests on it are serialised; use
// several clients for parallel requests.
type Client struct {
	socket string
	conn   net.Conn
	reader *bufio.Reader

	mu     sync.Mutex
	nextID uint64
}

// DefaultTimeout bounds a request when the caller's context has no deadline.
const DefaultTimeout = 30 * time.Second

// Dial connects to the socket. A missing socket or a refused connection is
// ErrNotRunning.
func Dial(ctx context.Context, socket string) (*Client, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, &connLost{msg: ErrNotRunning.Error(), notRunning: true, cause: err}
		}
		return nil, fmt.Errorf("connect to conductor at %s: %w", socket, err)
	}
	return &Client{socket: socket, conn: conn, reader: bufio.NewReaderSize(conn, 64<<10)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Request sends req and waits for the matching reply body.
func (c *Client) Request(ctx context.Context, req proto.Message) (proto.Message, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	return firstReply(func(fn func(proto.Message) error) error { return c.Stream(ctx, req, fn) })
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
		return nil, fmt.Errorf("%w: stream ended without a reply", ErrProtocol)
	}
	return nil, err
}

// Stream sends req and calls fn for every body that answers it until the
// conductor ends the stream (StreamEnd), fn returns an error, or ctx ends.
// Unlike Request it sets no timeout of its own: a followed log may last hours.
func (c *Client) Stream(ctx context.Context, req proto.Message, fn func(proto.Message) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	id := c.nextID
	env, err := messages.Wrap(id, req)
	if err != nil {
		return err
	}
	// An earlier abandoned request left a deadline behind; then unblock
	// reads and writes when this context ends.
	c.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()

	if err := messages.WriteFrame(c.conn, env); err != nil {
		// The conductor may have refused us before we wrote (another uid,
		// too many connections): its reason is waiting to be read.
		var in messages.Envelope
		c.conn.SetReadDeadline(time.Now().Add(time.Second))
		if rerr := messages.ReadFrame(c.reader, &in); rerr == nil && in.GetError() != nil {
			e := in.GetError()
			return &RemoteError{Code: e.GetCode(), Message: e.GetMessage(), Hint: e.GetHint()}
		}
		return c.wireError(ctx, err)
	}
	for {
		var in messages.Envelope
		if err := messages.ReadFrame(c.reader, &in); err != nil {
			return c.wireError(ctx, err)
		}
		if in.GetCorrelationId() != id && in.GetCorrelationId() != 0 {
			continue // a late answer to an earlier, abandoned request
		}
		if e := in.GetError(); e != nil {
			return &RemoteError{Code: e.GetCode(), Message: e.GetMessage(), Hint: e.GetHint()}
		}
		if in.GetStreamEnd() != nil {
			return nil
		}
		body := messages.Unwrap(&in)
		if body == nil {
			return fmt.Errorf("%w: the conductor answered with a message this mzt does not know (restart the conductor after upgrading: mzt restart)", ErrProtocol)
		}
		if err := fn(body); err != nil {
			return err
		}
	}
}

func (c *Client) wireError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: no answer from the conductor at %s", ErrTimeout, c.socket)
	}
	return &connLost{msg: fmt.Sprintf("conductor connection: %v", err), cause: err}
}

// Conn is one way to reach a conductor: its Unix socket (Client) or, later, a
// remote endpoint. CLI commands are written against Conn so that every
// command works over either.
type Conn interface {
	Request(ctx context.Context, req proto.Message) (proto.Message, error)
	Stream(ctx context.Context, req proto.Message, fn func(proto.Message) error) error
	Close() error
}

var _ Conn = (*Client)(nil)

// Call dials, sends one request and closes: the common case for CLI commands.
func Call[T proto.Message](ctx context.Context, socket string, req proto.Message) (T, error) {
	var zero T
	c, err := Dial(ctx, socket)
	if err != nil {
		return zero, err
	}
	defer c.Close()
	return RequestAs[T](ctx, c, req)
}

// RequestAs sends one request on conn and checks the reply's type.
func RequestAs[T proto.Message](ctx context.Context, conn Conn, req proto.Message) (T, error) {
	var zero T
	reply, err := conn.Request(ctx, req)
	if err != nil {
		return zero, err
	}
	typed, ok := reply.(T)
	if !ok {
		return zero, fmt.Errorf("%w: expected %T, got %T", ErrProtocol, zero, reply)
	}
	return typed, nil
}
