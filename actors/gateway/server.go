package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// Handler answers one request. A unary request returns its reply; a stream
// calls send for each body and returns (nil, nil), after which the server
// sends StreamEnd. An error of type *messages.Error travels as is; any other
// becomes an internal error.
type Handler interface {
	Handle(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error)
}

// ServerOptions bound what one client can cost the conductor.
type ServerOptions struct {
	RequestTimeout time.Duration // per unary request
	MaxInFlight    int           // per connection; the reader waits for a slot
	MaxConns       int           // beyond this, new connections get an error and are closed
	// MaxConnsPerUID are the connection slots of one peer uid: when they are
	// all taken, a new connection closes the one of that uid idle the
	// longest (nothing in flight, no stream, no frame half read), or is
	// refused when none is idle.
	MaxConnsPerUID int
	IdleTimeout    time.Duration // a connection with nothing in flight for this long is closed
	// FrameTimeout bounds the rest of a frame once its first byte has
	// arrived: a peer that starts a frame and stalls is closed within it.
	FrameTimeout time.Duration
	// FrameBudget bounds the bytes of large frames read at once over all
	// connections (messages.FrameReader); a frame that finds none left is
	// refused and its connection closed.
	FrameBudget int64
	OwnUID      int
}

// Server serves framed requests on a listener, one goroutine per connection
// plus one per request in flight.
type Server struct {
	ln      *net.UnixListener
	handler Handler
	opts    ServerOptions
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	budget *messages.FrameBudget

	mu      sync.Mutex
	conns   map[*conn]struct{}
	perUID  map[int]int
	closing bool
}

// NewServer prepares a server; Serve starts it.
func NewServer(ln *net.UnixListener, handler Handler, opts ServerOptions, log *slog.Logger) *Server {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 16
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 1024
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	if opts.MaxConnsPerUID <= 0 {
		opts.MaxConnsPerUID = 256
	}
	if opts.FrameTimeout <= 0 {
		opts.FrameTimeout = 10 * time.Second
	}
	if opts.FrameBudget <= 0 {
		opts.FrameBudget = 64 << 20
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{ln: ln, handler: handler, opts: opts, log: log, ctx: ctx, cancel: cancel,
		budget: messages.NewFrameBudget(opts.FrameBudget), conns: map[*conn]struct{}{}, perUID: map[int]int{}}
}

// Serve runs the accept loop in a goroutine.
func (s *Server) Serve() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.acceptLoop()
	}()
}

func (s *Server) acceptLoop() {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "err", err)
			// Out of file descriptors and the like: back off instead of spinning.
			select {
			case <-time.After(50 * time.Millisecond):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

// closeGrace is how long Close lets requests in flight write their answers
// (the answer to `mzt stop` among them) before connections are cut.
const closeGrace = 3 * time.Second

// Close stops accepting and reading, lets requests in flight answer, closes
// every connection, waits for their goroutines and removes the socket file
// if it is still the one we created.
func (s *Server) Close() {
	path := s.ln.Addr().String()
	before, statErr := os.Stat(path)
	s.ln.Close()
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		c.nc.SetReadDeadline(time.Now()) // readers stop; their requests finish
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.cancel()
	if statErr == nil {
		if now, err := os.Stat(path); err == nil && os.SameFile(before, now) {
			os.Remove(path)
		}
	}
}

type conn struct {
	nc      *net.UnixConn
	uid     int
	writeMu sync.Mutex
	// Guarded by Server.mu:
	active    int       // requests in flight
	inFrame   bool      // a frame's first byte has arrived, not yet its last
	idleSince time.Time // when active last dropped to 0
}

// idle reports whether c may be closed to make room: nothing in flight, no
// stream, no frame half read. Server.mu must be held.
func (c *conn) idle() bool { return c.active == 0 && !c.inFrame }

func (c *conn) write(env *messages.Envelope) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	// A client that stops reading must not pin a request goroutine forever.
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return messages.WriteFrame(c.nc, env)
}

func (c *conn) writeError(id uint64, e *messages.Error) error {
	return c.write(&messages.Envelope{CorrelationId: id, Body: &messages.Envelope_Error{Error: e}})
}

// track admits c, closing the longest idle connection of its uid when the
// uid's slots are all taken; it says why when c cannot be admitted.
func (s *Server) track(c *conn) *messages.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED, "", "the conductor is shutting down")
	}
	if len(s.conns) >= s.opts.MaxConns {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_BUSY, "close idle clients and retry",
			"too many connections (%d)", s.opts.MaxConns)
	}
	if s.perUID[c.uid] >= s.opts.MaxConnsPerUID {
		victim := s.longestIdle(c.uid)
		if victim == nil {
			return messages.NewError(messages.ErrorCode_ERROR_CODE_BUSY, "end some followed logs or event streams, or retry in a moment",
				"all %d connections of uid %d have a request in flight", s.opts.MaxConnsPerUID, c.uid)
		}
		s.log.Info("connection slots full: closing the longest idle connection", "uid", c.uid,
			"idle", time.Since(victim.idleSince).Round(time.Millisecond).String())
		s.forget(victim)
		victim.nc.Close() // its reader ends; its untrack finds it gone
	}
	s.conns[c] = struct{}{}
	s.perUID[c.uid]++
	c.idleSince = time.Now()
	return nil
}

// longestIdle is the connection of uid idle the longest, nil when none is
// idle. Server.mu must be held.
func (s *Server) longestIdle(uid int) *conn {
	var oldest *conn
	for c := range s.conns {
		if c.uid == uid && c.idle() && (oldest == nil || c.idleSince.Before(oldest.idleSince)) {
			oldest = c
		}
	}
	return oldest
}

// forget drops c from the books, once. Server.mu must be held.
func (s *Server) forget(c *conn) {
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perUID[c.uid]--; s.perUID[c.uid] <= 0 {
		delete(s.perUID, c.uid)
	}
}

// armIdle counts requests in flight on c (delta) and sets its read
// deadline: the idle timeout only while nothing is in flight, so a long
// stream (logs --follow) is never cut for idleness. It reports false once
// the server is closing (Close set an immediate deadline that must stay).
// While a frame is being read its own deadline (frameStarted) stands.
func (s *Server) armIdle(c *conn, delta int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.active += delta
	if c.active == 0 && delta != 0 {
		c.idleSince = time.Now()
	}
	if s.closing {
		return false
	}
	switch {
	case c.inFrame:
	case c.active == 0:
		c.nc.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
	default:
		c.nc.SetReadDeadline(time.Time{})
	}
	return true
}

// frameStarted bounds the rest of a frame whose first byte has arrived.
func (s *Server) frameStarted(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.inFrame = true
	if !s.closing {
		c.nc.SetReadDeadline(time.Now().Add(s.opts.FrameTimeout))
	}
}

// frameEnded reports whether c was in the middle of a frame, and is no more.
func (s *Server) frameEnded(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := c.inFrame
	c.inFrame = false
	return was
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	s.forget(c)
	s.mu.Unlock()
}

func (s *Server) serveConn(nc *net.UnixConn) {
	c := &conn{nc: nc}
	defer nc.Close()
	uid, err := PeerUID(nc)
	if err == nil {
		err = CheckPeer(uid, s.opts.OwnUID)
	}
	if err != nil {
		s.log.Warn("connection refused", "err", err)
		c.writeError(0, messages.NewError(messages.ErrorCode_ERROR_CODE_PERMISSION_DENIED, "", "%v", err))
		return
	}
	c.uid = uid
	if e := s.track(c); e != nil {
		c.writeError(0, e)
		return
	}
	defer s.untrack(c)

	ctx, cancel := context.WithCancel(s.ctx)
	var inflight sync.WaitGroup
	defer func() {
		// A client that left takes its requests with it; a closing server
		// lets them answer first (Close cancels them after its grace).
		if !s.isClosing() {
			cancel()
		}
		inflight.Wait()
		cancel()
	}()
	slots := make(chan struct{}, s.opts.MaxInFlight)
	// A small buffer: it is paid per connection, and a large frame's body
	// is read past it, straight into its own buffer.
	reader := bufio.NewReaderSize(nc, 4<<10)
	frames := messages.FrameReader{Budget: s.budget, Started: func() { s.frameStarted(c) }}
	for {
		// Wait for a free slot before reading more: a client pipelining
		// without bound is slowed down, not given unbounded goroutines.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if !s.armIdle(c, 0) {
			return
		}
		var env messages.Envelope
		err := frames.Read(reader, &env)
		if midFrame := s.frameEnded(c); err != nil {
			s.frameError(c, err, midFrame)
			return
		}
		req := messages.Unwrap(&env)
		id := env.GetCorrelationId()
		if env.GetProtocolVersion() != messages.ProtocolVersion {
			c.writeError(id, messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED,
				"use the same mzt for the CLI and the conductor (mzt restart after an upgrade)",
				"protocol version %d is not spoken here (this conductor speaks %d)",
				env.GetProtocolVersion(), messages.ProtocolVersion))
			<-slots
			continue
		}
		if req == nil {
			c.writeError(id, messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED,
				"restart the conductor after upgrading mzt: mzt restart",
				"this conductor does not know the request it was sent"))
			<-slots
			continue
		}
		inflight.Add(1)
		s.armIdle(c, +1)
		go func() {
			defer inflight.Done()
			defer func() { <-slots }()
			defer s.armIdle(c, -1)
			s.serveRequest(ctx, c, id, req)
		}()
	}
}

func (s *Server) frameError(c *conn, err error, midFrame bool) {
	switch {
	case midFrame && errors.Is(err, os.ErrDeadlineExceeded):
		s.log.Warn("frame not completed in time; closing that connection", "timeout", s.opts.FrameTimeout.String())
		c.writeError(0, messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "",
			"frame not completed within %s", s.opts.FrameTimeout))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
		return // the client left, sat idle too long, or was closed to make room
	case errors.Is(err, messages.ErrFrameBudget):
		s.log.Warn("large frame refused: the frame budget is in use; closing that connection", "err", err)
		c.writeError(0, messages.NewError(messages.ErrorCode_ERROR_CODE_BUSY, "retry in a moment", "%v", err))
	case errors.Is(err, messages.ErrFrameTooLarge):
		s.log.Warn("oversized frame; closing that connection", "err", err)
		c.writeError(0, messages.NewError(messages.ErrorCode_ERROR_CODE_FRAME_TOO_LARGE, "", "%v", err))
	default:
		s.log.Warn("bad frame; closing that connection", "err", err)
		c.writeError(0, messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "", "%v", err))
	}
}

func (s *Server) serveRequest(ctx context.Context, c *conn, id uint64, req proto.Message) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("request handler panicked", "request", fmt.Sprintf("%T", req), "panic", r)
			c.writeError(id, messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "see the conductor log",
				"internal error while serving %T", req))
		}
	}()
	send := func(msg proto.Message) error {
		env, err := messages.Wrap(id, msg)
		if err != nil {
			return err
		}
		return c.write(env)
	}
	reply, err := s.handler.Handle(ctx, req, send)
	var e *messages.Error
	switch {
	case errors.As(err, &e):
		c.writeError(id, e)
	case errors.Is(err, context.Canceled):
		// The conductor is stopping or the client went away: a reason sent
		// now would read as the request's failure ("context canceled"). The
		// connection closes instead, which a follower takes for a restart.
		s.log.Debug("request ended by cancellation", "request", fmt.Sprintf("%T", req))
	case errors.Is(err, context.DeadlineExceeded):
		c.writeError(id, messages.NewError(messages.ErrorCode_ERROR_CODE_TIMEOUT, "", "the conductor did not answer %T in time", req))
	case err != nil:
		c.writeError(id, messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "%v", err))
	case reply != nil:
		if err := send(reply); err != nil {
			s.log.Debug("reply not delivered", "err", err)
		}
	default:
		c.write(&messages.Envelope{CorrelationId: id, Body: &messages.Envelope_StreamEnd{StreamEnd: &messages.StreamEnd{}}})
	}
}
