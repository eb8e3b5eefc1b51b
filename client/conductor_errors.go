package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
)

// ErrConnectionLost means the conductor could not be reached or the
// connection to it broke, whatever the transport: a refused or reset
// connection, a missing socket, a stream cut by a restart. Retrying later
// may succeed.
var ErrConnectionLost = errors.New("connection to the conductor lost")

// connLost is a transport failure: it is ErrConnectionLost, and also
// ErrNotRunning when a local conductor's socket is missing or refuses.
type connLost struct {
	msg        string
	notRunning bool
	cause      error
}

func (e *connLost) Error() string { return e.msg }
func (e *connLost) Unwrap() error { return e.cause }
func (e *connLost) Is(target error) bool {
	return target == ErrConnectionLost || e.notRunning && target == ErrNotRunning
}

// fail turns a service error into the client's errors: the conductor's own
// (a *RemoteError that errors.Is its sentinel), ErrTimeout, or a transport
// failure that errors.Is ErrConnectionLost.
func (c *Conductor) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !connect.IsWireError(err) {
		return timeoutf("conductor at %s did not answer within %s", c.where, c.timeout())
	}
	if errors.As(err, &ce) {
		for _, d := range ce.Details() {
			if v, derr := d.Value(); derr == nil {
				if me, ok := v.(*messages.Error); ok {
					return &RemoteError{Code: me.GetCode(), Message: me.GetMessage(), Hint: me.GetHint()}
				}
			}
		}
		if !connect.IsWireError(err) && transportError(err) {
			return c.lost(err) // the request never got an answer
		}
		switch ce.Code() {
		case connect.CodeDeadlineExceeded:
			if ctx.Err() != nil {
				return timeoutf("conductor at %s did not answer within %s", c.where, c.timeout())
			}
		case connect.CodeCanceled:
			if ctx.Err() != nil {
				return ctx.Err()
			}
		case connect.CodeUnavailable:
			return c.lost(err)
		}
		if ce.Code() == connect.CodeUnimplemented && strings.Contains(ce.Message(), "unknown service") {
			// A gRPC server that is not a conductor's service: most likely
			// the protoactor endpoint ([remote] listen) of a conductor.
			return &RemoteError{Code: messages.ErrorCode_ERROR_CODE_UNSUPPORTED,
				Message: fmt.Sprintf("%s does not serve the Conductor service (%s)", c.where, ce.Message()),
				Hint:    "point --remote at the conductor's [api] listen; its [remote] listen is the protoactor endpoint (transport = \"protoactor\" in client.toml)"}
		}
		return &RemoteError{Code: codeFromWire(ce.Code()), Message: ce.Message()}
	}
	if transportError(err) {
		return c.lost(err)
	}
	return err
}

func (c *Conductor) lost(err error) error {
	notRunning := c.local && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED))
	if notRunning {
		return &connLost{msg: fmt.Sprintf("conductor is not running (no answer at %s)", c.where), notRunning: true, cause: err}
	}
	cause := err.Error()
	var ce *connect.Error
	if errors.As(err, &ce) {
		cause = ce.Message()
	}
	if strings.Contains(cause, "x509: ") {
		return unreachablef("conductor at %s is not one this client's CA vouches for: %s", c.where, cause)
	}
	if c.tls != nil && !strings.Contains(cause, "connection refused") {
		// TLS 1.3 tells a refused client certificate only on the first read,
		// which HTTP/2 hides behind a broken pipe or a connection that "could
		// not be established": a probe of the handshake says what it was.
		perr := Probe(c.where, c.tls, min(c.timeout(), 5*time.Second))
		if perr != nil && (strings.Contains(perr.Error(), "certificate") || strings.Contains(perr.Error(), "TLS")) {
			return perr
		}
	}
	if strings.Contains(cause, "connection refused") {
		cause = "connection refused (is it running with [api] listen set?)"
	}
	return &connLost{msg: fmt.Sprintf("conductor at %s is not reachable: %s", c.where, cause), cause: err}
}

func transportError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// codeFromWire maps a Connect code without the conductor's detail (another
// server, a proxy) to the nearest conductor code.
func codeFromWire(code connect.Code) messages.ErrorCode {
	switch code {
	case connect.CodeNotFound:
		return messages.ErrorCode_ERROR_CODE_NOT_FOUND
	case connect.CodePermissionDenied, connect.CodeUnauthenticated:
		return messages.ErrorCode_ERROR_CODE_PERMISSION_DENIED
	case connect.CodeUnimplemented:
		return messages.ErrorCode_ERROR_CODE_UNSUPPORTED
	case connect.CodeInvalidArgument:
		return messages.ErrorCode_ERROR_CODE_BAD_REQUEST
	case connect.CodeResourceExhausted:
		return messages.ErrorCode_ERROR_CODE_BUSY
	}
	return messages.ErrorCode_ERROR_CODE_INTERNAL
}
