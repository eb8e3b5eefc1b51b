package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxConns bounds the connections served at once: a conductor holds one per
// running try (its wait) plus a few.
const maxConns = 4096

// idleExit is how long a supervisor with no try and no conductor lingers
// (a conductor that just started it, or is restarting, attaches by then).
const idleExit = 10 * time.Second

// Config is what a supervisor needs.
type Config struct {
	Dir     string // the home's supervisors folder; the socket is Dir/<pid>.sock
	Version string // the mzt version, shown to conductors
	Log     *slog.Logger
}

// SocketPath is the socket of the supervisor pid in dir.
func SocketPath(dir string, pid int) string {
	return filepath.Join(dir, strconv.Itoa(pid)+".sock")
}

// Serve runs a supervisor until it holds no try and no conductor attaches
// (for idleExit), or until ctx ends. It makes the process a subreaper.
func Serve(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become subreaper: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("create supervisors folder: %w", err)
	}
	path := SocketPath(cfg.Dir, os.Getpid())
	os.Remove(path) // a stale socket of a dead process that had our pid
	old := unix.Umask(0o077)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", path, err)
	}
	defer os.Remove(path)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	tab := newTable()
	tab.log = cfg.Log
	s := &server{cfg: cfg, tab: tab, attach: make(chan int, 16), sem: make(chan struct{}, maxConns)}
	quit := make(chan struct{})
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		defer s.recoverTo("reap loop")
		s.tab.reapLoop(quit)
	}()
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		defer s.recoverTo("orphan sweep")
		(&orphanSweep{t: s.tab, pending: map[int]orphan{}}).loop(quit, s.tab.sweep)
	}()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		defer s.recoverTo("accept loop")
		s.acceptLoop(ln)
	}()
	cfg.Log.Info("supervisor serving", "socket", path, "version", cfg.Version, "protocol", ProtocolVersion)
	s.untilIdle(ctx)
	ln.Close()
	<-accepted
	close(quit)
	select {
	case s.tab.wake <- struct{}{}:
	default:
	}
	<-reaped
	<-swept
	return nil
}

type server struct {
	cfg    Config
	tab    *table
	attach chan int // +1 when a conductor attaches, -1 when it leaves
	sem    chan struct{}
	wg     sync.WaitGroup
}

// untilIdle returns once the supervisor has held no try and no conductor
// for idleExit, or ctx ended.
func (s *server) untilIdle(ctx context.Context) {
	attached := 0
	timer := time.NewTimer(idleExit)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-s.attach:
			attached += d
		case <-s.tab.idle:
		case <-timer.C:
			if _, live := s.tab.snapshot(); live == 0 && attached == 0 {
				return
			}
		}
		timer.Reset(idleExit)
	}
}

func (s *server) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		uc := c.(*net.UnixConn)
		if err := checkPeer(uc); err != nil {
			s.cfg.Log.Warn("refused a connection", "err", err)
			c.Close()
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			c.Close() // over the bound: the client retries or falls back
			continue
		}
		go func() {
			defer func() { <-s.sem }()
			defer c.Close()
			defer s.recoverTo("connection")
			s.serveConn(uc)
		}()
	}
}

func (s *server) recoverTo(what string) {
	if r := recover(); r != nil {
		s.cfg.Log.Error("supervisor panic", "in", what, "panic", r, "stack", string(debug.Stack()))
	}
}

// serveConn answers one request; attach and wait hold the connection.
func (s *server) serveConn(c *net.UnixConn) {
	// The default 4 KiB buffer: readFrame gathers a longer frame (a large
	// prompt) chunk by chunk, and a connection per try makes a 64 KiB
	// buffer each the supervisor's main source of garbage.
	r := bufio.NewReader(c)
	var req Request
	if err := readFrame(r, &req); err != nil {
		_ = writeFrame(c, Reply{V: ProtocolVersion, Error: err.Error()})
		return
	}
	if req.V < MinProtocolVersion || req.V > ProtocolVersion {
		_ = writeFrame(c, Reply{V: ProtocolVersion, Error: fmt.Sprintf(
			"protocol version %d is not supported: this supervisor (mzt %s) speaks %d to %d",
			req.V, s.cfg.Version, MinProtocolVersion, ProtocolVersion)})
		return
	}
	if rep := s.handle(c, r, req); rep != nil {
		_ = writeFrame(c, rep)
	}
}

// handle answers req; nil means the reply was already written.
func (s *server) handle(c *net.UnixConn, r *bufio.Reader, req Request) *Reply {
	ok := &Reply{V: ProtocolVersion, OK: true}
	switch req.Op {
	case OpHello:
		ok.PID, ok.Version = os.Getpid(), s.cfg.Version
		if req.Gen == 0 { // a look (conductor-status), not a claim
			ok.Tries, _ = s.tab.snapshot()
			return ok
		}
		tries, err := s.tab.claim(req.Gen)
		if err != nil {
			return fail(err.Error())
		}
		s.cfg.Log.Info("claimed by a conductor", "generation", req.Gen, "tries", len(tries))
		ok.Tries = tries
		return ok
	case OpStart:
		if req.Try == nil {
			return fail("start without a try")
		}
		tr, err := s.tab.start(*req.Try, req.Gen)
		if err != nil {
			s.logFenced(err, req)
			return fail(err.Error())
		}
		p := tr.proc
		ok.Proc = &p
		return ok
	case OpRun:
		if req.Try == nil {
			return fail("run without a try")
		}
		tr, err := s.tab.start(*req.Try, req.Gen)
		if err != nil {
			s.logFenced(err, req)
			return fail(err.Error())
		}
		p := tr.proc
		if err := writeFrame(c, &Reply{V: ProtocolVersion, OK: true, Proc: &p}); err != nil {
			return nil // the conductor went: the try runs on, for whoever adopts it
		}
		return s.waitOn(c, r, tr)
	case OpWait:
		tr := s.tab.lookup(req.Token)
		if tr == nil {
			return fail("no try " + req.Token)
		}
		return s.waitOn(c, r, tr)
	case OpStop:
		tr := s.tab.lookup(req.Token)
		if tr == nil {
			return fail("no try " + req.Token)
		}
		s.tab.stopTry(tr, time.Duration(req.GraceMS)*time.Millisecond)
		return ok
	case OpAttach:
		if err := s.tab.own(req.Gen); err != nil {
			return fail(err.Error())
		}
		s.attach <- 1
		defer func() { s.attach <- -1 }()
		s.tab.hold()
		defer s.tab.release()
		if err := writeFrame(c, ok); err != nil {
			return nil
		}
		_, _ = r.ReadByte() // held until the conductor goes
		return nil
	}
	return fail("unknown op " + strconv.Quote(req.Op))
}

// logFenced names a start refused because a newer conductor claimed the
// supervisor (a request its killed predecessor sent).
func (s *server) logFenced(err error, req Request) {
	var f errFenced
	if errors.As(err, &f) {
		s.cfg.Log.Info("refused a start from an older conductor", "try", req.Try.Token, "generation", f.gen, "owner", f.fence)
	}
}

// waitOn answers once tr has ended and forgets it (a conductor has its
// exit); the conductor hanging up ends the wait, not the try.
func (s *server) waitOn(c *net.UnixConn, r *bufio.Reader, tr *try) *Reply {
	s.tab.hold() // a conductor waiting on a try is present
	defer s.tab.release()
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		defer s.recoverTo("wait hang-up")
		_, _ = r.ReadByte()
	}()
	select {
	case <-tr.ended:
	case <-gone:
		return fail("the conductor left")
	}
	ok := &Reply{V: ProtocolVersion, OK: true, Exit: tr.exit, Proc: &tr.proc}
	if err := writeFrame(c, ok); err == nil {
		s.tab.collect(tr.spec.Token)
	}
	return nil
}

func fail(msg string) *Reply { return &Reply{V: ProtocolVersion, Error: msg} }

// checkPeer refuses a peer that is not this user (root included: a
// supervisor runs sheets with this user's rights for this user only).
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("peer uid %d is not %d", cred.Uid, os.Getuid())
	}
	return nil
}
