package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

const waitFor = 10 * time.Second

type handlerFunc func(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error)

func (f handlerFunc) Handle(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
	return f(ctx, req, send)
}

// healthOnly answers HealthRequest and refuses the rest.
func healthOnly(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
	if _, ok := req.(*messages.HealthRequest); ok {
		return &messages.HealthResponse{Version: "fake", Ready: true}, nil
	}
	return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "", "%T", req)
}

func startServer(t *testing.T, h Handler, opts ServerOptions) (*Server, string) {
	t.Helper()
	path := filepath.Join(shortDir(t), "c.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.OwnUID = os.Getuid()
	s := NewServer(ln, h, opts, slog.New(slog.DiscardHandler))
	s.Serve()
	t.Cleanup(s.Close)
	return s, path
}

// testConn is a raw client connection.
type testConn struct {
	c *net.UnixConn
	r *bufio.Reader
}

func dial(t *testing.T, path string) *testConn {
	t.Helper()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return &testConn{c: c, r: bufio.NewReader(c)}
}

func (tc *testConn) send(t *testing.T, id uint64, msg proto.Message) {
	t.Helper()
	env, err := messages.Wrap(id, msg)
	if err != nil {
		t.Fatal(err)
	}
	tc.c.SetWriteDeadline(time.Now().Add(waitFor))
	if err := messages.WriteFrame(tc.c, env); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func (tc *testConn) sendRaw(t *testing.T, b []byte) {
	t.Helper()
	tc.c.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := tc.c.Write(b); err != nil {
		t.Fatalf("send raw: %v", err)
	}
}

func (tc *testConn) read() (*messages.Envelope, error) {
	tc.c.SetReadDeadline(time.Now().Add(waitFor))
	var env messages.Envelope
	err := messages.ReadFrame(tc.r, &env)
	return &env, err
}

func (tc *testConn) recv(t *testing.T) *messages.Envelope {
	t.Helper()
	env, err := tc.read()
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return env
}

func (tc *testConn) recvError(t *testing.T, id uint64, code messages.ErrorCode) *messages.Error {
	t.Helper()
	env := tc.recv(t)
	e := env.GetError()
	if e == nil || e.GetCode() != code || env.GetCorrelationId() != id {
		t.Fatalf("got %v, want error %s for request %d", env, code, id)
	}
	return e
}

func (tc *testConn) expectClosed(t *testing.T) {
	t.Helper()
	if env, err := tc.read(); !errors.Is(err, io.EOF) {
		t.Fatalf("connection still open: read %v, %v; want EOF", env, err)
	}
}

func (tc *testConn) health(t *testing.T, id uint64) {
	t.Helper()
	tc.send(t, id, &messages.HealthRequest{})
	env := tc.recv(t)
	if env.GetCorrelationId() != id || env.GetHealthResponse().GetVersion() != "fake" {
		t.Fatalf("health %d answered with %v", id, env)
	}
}

func varint(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func TestServerBadFrameClosesOnlyThatConnection(t *testing.T) {
	tests := []struct {
		name      string
		bytes     []byte
		halfClose bool
		code      messages.ErrorCode
	}{
		{"garbage", append(varint(6), 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff), false, messages.ErrorCode_ERROR_CODE_BAD_REQUEST},
		{"unterminated length", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false, messages.ErrorCode_ERROR_CODE_BAD_REQUEST},
		{"truncated", append(varint(100), make([]byte, 10)...), true, messages.ErrorCode_ERROR_CODE_BAD_REQUEST},
		{"oversized", varint(messages.MaxFrameSize + 1), false, messages.ErrorCode_ERROR_CODE_FRAME_TOO_LARGE},
	}
	_, path := startServer(t, handlerFunc(healthOnly), ServerOptions{})
	other := dial(t, path)
	other.health(t, 1)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := dial(t, path)
			bad.health(t, 1) // a working connection that then goes bad
			bad.sendRaw(t, tt.bytes)
			if tt.halfClose {
				bad.c.CloseWrite()
			}
			e := bad.recvError(t, 0, tt.code)
			if e.GetMessage() == "" {
				t.Error("error frame without a message")
			}
			bad.expectClosed(t)
			other.health(t, uint64(10+i)) // everyone else is still served
			dial(t, path).health(t, 1)
		})
	}
}

// unknownBody is an Envelope whose body is a field this build does not know,
// as a newer CLI would send.
func unknownBody(id uint64) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, id)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, messages.ProtocolVersion)
	b = protowire.AppendTag(b, 999, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte{0x08, 0x01})
	return append(varint(uint64(len(b))), b...)
}

func TestServerUnknownBodyKeepsConnection(t *testing.T) {
	_, path := startServer(t, handlerFunc(healthOnly), ServerOptions{})
	c := dial(t, path)
	c.sendRaw(t, unknownBody(7))
	c.recvError(t, 7, messages.ErrorCode_ERROR_CODE_UNSUPPORTED)
	c.health(t, 8)

	// A request of another protocol version is refused the same way.
	env := messages.MustWrap(9, &messages.HealthRequest{})
	env.ProtocolVersion = messages.ProtocolVersion + 1
	c.c.SetWriteDeadline(time.Now().Add(waitFor))
	if err := messages.WriteFrame(c.c, env); err != nil {
		t.Fatal(err)
	}
	if e := c.recvError(t, 9, messages.ErrorCode_ERROR_CODE_UNSUPPORTED); e.GetHint() == "" {
		t.Error("a version skew error without a hint")
	}
	c.health(t, 10)
}

func TestServerHandlerPanicAnswersInternal(t *testing.T) {
	_, path := startServer(t, handlerFunc(func(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
		if _, ok := req.(*messages.JobStatusRequest); ok {
			panic("handler bug")
		}
		return healthOnly(ctx, req, send)
	}), ServerOptions{})
	c := dial(t, path)
	c.send(t, 3, &messages.JobStatusRequest{JobId: "x"})
	c.recvError(t, 3, messages.ErrorCode_ERROR_CODE_INTERNAL)
	c.health(t, 4)
}

func TestServerIdleConnectionsDoNotBlock(t *testing.T) {
	_, path := startServer(t, handlerFunc(healthOnly), ServerOptions{})
	var idle []*testConn
	for range 100 {
		idle = append(idle, dial(t, path))
	}
	// Some send half a frame and stop (slowloris).
	for _, c := range idle[:10] {
		c.sendRaw(t, append(varint(50), 1, 2, 3))
	}
	dial(t, path).health(t, 1)
	idle[99].health(t, 2)
}

func TestServerMaxConns(t *testing.T) {
	_, path := startServer(t, handlerFunc(healthOnly), ServerOptions{MaxConns: 2})
	a, b := dial(t, path), dial(t, path)
	a.health(t, 1)
	b.health(t, 1)
	c := dial(t, path)
	c.recvError(t, 0, messages.ErrorCode_ERROR_CODE_BUSY)
	c.expectClosed(t)
	a.health(t, 2)
}

func TestServerMaxInFlightBoundsHandlers(t *testing.T) {
	const maxInFlight, requests = 2, 6
	var current, peak atomic.Int32
	entered := make(chan struct{}, requests)
	release := make(chan struct{})
	h := handlerFunc(func(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
		n := current.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		current.Add(-1)
		return &messages.JobStatus{}, nil
	})
	_, path := startServer(t, h, ServerOptions{MaxInFlight: maxInFlight})
	c := dial(t, path)
	for i := range requests {
		c.send(t, uint64(i+1), &messages.JobStatusRequest{JobId: fmt.Sprint(i + 1)})
	}
	waitEntered := func() {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(waitFor):
			t.Fatal("handler not called")
		}
	}
	for range maxInFlight {
		waitEntered()
	}
	// Every request is on the wire; with both slots taken the reader must
	// wait. A third call in this window would break the bound.
	select {
	case <-entered:
		t.Fatalf("a handler call started while %d were in flight", maxInFlight)
	case <-time.After(100 * time.Millisecond):
	}
	// Each answer frees exactly one slot.
	answered := map[uint64]bool{}
	for i := maxInFlight; i < requests; i++ {
		release <- struct{}{}
		env := c.recv(t)
		answered[env.GetCorrelationId()] = true
		waitEntered()
	}
	for range maxInFlight {
		release <- struct{}{}
		answered[c.recv(t).GetCorrelationId()] = true
	}
	if len(answered) != requests {
		t.Errorf("answers for %v, want all %d requests", answered, requests)
	}
	if p := peak.Load(); p != maxInFlight {
		t.Errorf("peak concurrent handler calls %d, want %d", p, maxInFlight)
	}
}

// The answer to a request in flight (`mzt stop` among them) gets out when the
// server closes, even if the handler honours its context.
func TestServerCloseLetsInFlightAnswer(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := handlerFunc(func(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
		close(entered)
		select {
		case <-release:
			return &messages.ShutdownResponse{Pid: 42}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	s, path := startServer(t, h, ServerOptions{})
	c := dial(t, path)
	c.send(t, 5, &messages.ShutdownRequest{})
	<-entered

	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	// Wait until Close has stopped accepting, then let the handler answer.
	deadline := time.Now().Add(waitFor)
	for {
		probe, err := net.Dial("unix", path)
		if err != nil {
			break
		}
		probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("Close never stopped accepting")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)

	env := c.recv(t)
	if env.GetCorrelationId() != 5 || env.GetShutdownResponse().GetPid() != 42 {
		t.Errorf("in-flight request answered with %v during Close, want its ShutdownResponse", env)
	}
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close did not return")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file left after Close: %v", err)
	}
	c.expectClosed(t)
}

// A stream in flight (`mzt logs --follow`) is not an idle connection: the
// idle timeout must not cut it.
func TestServerStreamOutlivesIdleTimeout(t *testing.T) {
	const idle, chunks = 100 * time.Millisecond, 10
	h := handlerFunc(func(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
		tick := time.NewTicker(idle / 3)
		defer tick.Stop()
		for i := range chunks {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if err := send(&messages.LogChunk{Sheet: 1, Data: []byte(fmt.Sprintf("line %d\n", i))}); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	_, path := startServer(t, h, ServerOptions{IdleTimeout: idle})
	c := dial(t, path)
	c.send(t, 1, &messages.LogsRequest{JobId: "j", Follow: true})
	for i := range chunks {
		env := c.recv(t)
		if env.GetLogChunk() == nil {
			t.Fatalf("chunk %d: got %v (the stream was cut after %v of reading nothing)", i, env, idle)
		}
	}
	if env := c.recv(t); env.GetStreamEnd() == nil {
		t.Fatalf("after the chunks: %v, want StreamEnd", env)
	}
}

// A follow cut by a stopping conductor ends with the connection closed, not
// with an error frame: a follower reads a closed connection as a restart
// and resumes, while an error would end it with "context canceled". Many
// follows at once, since the error frame used to race the closing
// connection and win only sometimes.
func TestServerCloseCutsFollowWithoutError(t *testing.T) {
	const follows = 32
	var streaming sync.WaitGroup
	streaming.Add(follows)
	h := handlerFunc(func(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
		if err := send(&messages.LogChunk{Sheet: 1, Data: []byte("tick\n")}); err != nil {
			return nil, err
		}
		streaming.Done()
		<-ctx.Done()
		return nil, fmt.Errorf("follow logs: %w", ctx.Err())
	})
	s, path := startServer(t, h, ServerOptions{})
	conns := make([]*testConn, follows)
	for i := range conns {
		conns[i] = dial(t, path)
		conns[i].send(t, 1, &messages.LogsRequest{JobId: "j", Follow: true})
		if env := conns[i].recv(t); env.GetLogChunk() == nil {
			t.Fatalf("follow %d: first frame %v, want a LogChunk", i, env)
		}
	}
	streaming.Wait()
	s.Close()
	for i, c := range conns {
		if env, err := c.read(); !errors.Is(err, io.EOF) {
			t.Errorf("follow %d after Close: got %v, %v; want the connection closed (EOF)", i, env, err)
		}
	}
}
