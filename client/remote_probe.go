package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// ErrUnreachable means a remote conductor's endpoint could not be used
// (refused connection, TLS failure); the message says which and why.
var ErrUnreachable = errors.New("conductor unreachable")

// remoteFailure is a sentence for the user that errors.Is a sentinel.
type remoteFailure struct {
	msg  string
	kind error
}

func (e *remoteFailure) Error() string { return e.msg }
func (e *remoteFailure) Is(target error) bool {
	return target == e.kind || e.kind == ErrUnreachable && target == ErrConnectionLost
}

func timeoutf(format string, args ...any) error {
	return &remoteFailure{fmt.Sprintf(format, args...), ErrTimeout}
}

func unreachablef(format string, args ...any) error {
	return &remoteFailure{fmt.Sprintf(format, args...), ErrUnreachable}
}

// probe checks, once per address (until it succeeds) and beside the first request, that the
// conductor's endpoint answers and accepts our certificate, so that a
// refused connection or a TLS failure is reported at once and clearly
// instead of after protoactor's silent retries.
// http2Preface and an empty SETTINGS frame: a gRPC server answers them with
// its own SETTINGS, which proves the TLS handshake (client certificate
// included) succeeded.
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")

// Probe connects to a remote endpoint the way protoactor will (TLS when
// cfg is set) and reports in words why it cannot be used, or nil.
func Probe(addr string, cfg *tls.Config, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	raw, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return unreachablef("conductor at %s is not reachable: connection refused (is it running with [remote] listen set?)", addr)
		}
		return unreachablef("conductor at %s is not reachable: %v", addr, err)
	}
	defer raw.Close()
	raw.SetDeadline(deadline)
	conn := raw
	if cfg != nil {
		host, _, _ := net.SplitHostPort(addr)
		c := cfg.Clone()
		c.ServerName = host
		c.NextProtos = []string{"h2"} // gRPC refuses TLS without ALPN h2
		tc := tls.Client(raw, c)
		if err := tc.Handshake(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return timeoutf("conductor at %s did not answer within %s", addr, timeout)
			}
			if brokenTransport(err) {
				// A conductor going down resets what it accepted: no verdict
				// on TLS or on our certificate can be read from that.
				return unreachablef("conductor at %s is not reachable: %v", addr, err)
			}
			return unreachablef("TLS with the conductor at %s failed: %v", addr, err)
		}
		conn = tc
	}
	// Over TLS an HTTP/2 server speaks first (its SETTINGS), so nothing is
	// written: a server that refuses our certificate then closes a
	// connection with nothing unread, and its alert reaches us instead of a
	// reset. In the clear, the preface makes a TLS-only server hang up.
	if cfg == nil {
		if _, err := conn.Write(http2Preface); err != nil {
			return unreachablef("conductor at %s: %v", addr, err)
		}
	}
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return timeoutf("conductor at %s did not answer within %s", addr, timeout)
		case cfg == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
			return unreachablef("conductor at %s closed the connection: it requires TLS (set ca, cert and key in client.toml)", addr)
		case cfg != nil && !brokenTransport(err):
			return unreachablef("conductor at %s refused this client's certificate: %v", addr, err)
		}
		return unreachablef("conductor at %s: %v", addr, err)
	}
	return nil
}

// brokenTransport reports whether err is the connection breaking (reset,
// closed, broken pipe) rather than a TLS alert: TLS 1.3 refuses a client
// certificate with an alert ("remote error: tls: ..."), never a bare reset.
func brokenTransport(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Timeoutf and Unreachablef make the errors other transports (the
// protoactor client, package actorclient) report, so callers test them
// with the same sentinels whatever carried the request.
func Timeoutf(format string, args ...any) error { return timeoutf(format, args...) }

// Unreachablef: see Timeoutf.
func Unreachablef(format string, args ...any) error { return unreachablef(format, args...) }
