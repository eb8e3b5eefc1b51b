package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dialTimeout bounds connecting and each short request.
const dialTimeout = 5 * time.Second

// Client talks to one supervisor.
type Client struct {
	Path string // its socket
	// Gen is this conductor's generation, sent with claims, attaches and
	// starts (0: a client that only looks).
	Gen uint64
	// V is the protocol version spoken to it (0: ProtocolVersion); Find
	// sets it to an older supervisor's.
	V int
	// own, when set, makes the client speak to whatever supervisor own
	// holds now (Path, Gen and V are then its).
	own *Own
}

// ErrRefused wraps a supervisor's refusal (e.g. an unsupported protocol).
var ErrRefused = errors.New("supervisor refused")

func (c Client) dial(ctx context.Context) (*net.UnixConn, error) {
	if c.own != nil {
		return nil, errors.New("supervisor: a followed client must be pinned with Current first")
	}
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		return nil, fmt.Errorf("connect to supervisor %s: %w", c.Path, err)
	}
	uc := conn.(*net.UnixConn)
	if err := checkPeer(uc); err != nil { // a socket someone else planted
		uc.Close()
		return nil, fmt.Errorf("supervisor %s: %w", c.Path, err)
	}
	return uc, nil
}

// call sends req and reads one reply, within dialTimeout.
func (c Client) call(ctx context.Context, req Request) (*Reply, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(dialTimeout))
	req.V = c.V
	return exchange(conn, bufio.NewReader(conn), req)
}

func exchange(conn *net.UnixConn, r *bufio.Reader, req Request) (*Reply, error) {
	if req.V == 0 {
		req.V = ProtocolVersion
	}
	if err := writeFrame(conn, req); err != nil {
		return nil, fmt.Errorf("supervisor %s: %w", req.Op, err)
	}
	var rep Reply
	if err := readFrame(r, &rep); err != nil {
		return nil, fmt.Errorf("supervisor %s: %w", req.Op, err)
	}
	if !rep.OK {
		return &rep, fmt.Errorf("%w: %s", ErrRefused, rep.Error)
	}
	return &rep, nil
}

// Hello asks the supervisor who it is and which tries it holds.
func (c Client) Hello(ctx context.Context) (*Reply, error) {
	return c.call(ctx, Request{Op: OpHello})
}

// Claim lists the supervisor's tries and, in the same step, makes this
// conductor's generation its owner: a start sent by an older conductor (one
// killed with its request still in flight) is refused from then on, so the
// list is all that runs.
func (c Client) Claim(ctx context.Context) (*Reply, error) {
	return c.call(ctx, Request{Op: OpHello, Gen: c.Gen})
}

// ErrNoOrphanGuard refuses, before anything is sent, a try with an orphan
// deadline for a supervisor too old to honour it (protocol 2 and older
// ignore the field: the try would run on unguarded).
var ErrNoOrphanGuard = errors.New("this supervisor's protocol cannot stop a try when its conductor is gone")

// GuardsOrphans reports whether the supervisor honours
// TrySpec.KillIfOrphanedMS (protocol 3 and later).
func (c Client) GuardsOrphans() bool { return c.V == 0 || c.V >= 3 }

func (c Client) checkGuard(spec TrySpec) error {
	if spec.KillIfOrphanedMS > 0 && !c.GuardsOrphans() {
		return fmt.Errorf("%w (protocol %d)", ErrNoOrphanGuard, c.V)
	}
	return nil
}

// Start forks a try; the exit status will be in spec.ExitPath.
func (c Client) Start(ctx context.Context, spec TrySpec) (Proc, error) {
	if err := c.checkGuard(spec); err != nil {
		return Proc{}, err
	}
	rep, err := c.call(ctx, Request{Op: OpStart, Try: &spec, Gen: c.Gen})
	if err != nil {
		return Proc{}, err
	}
	if rep.Proc == nil {
		return Proc{}, errors.New("supervisor start: no process in the reply")
	}
	return *rep.Proc, nil
}

// Running is a try started by Run, its connection held for its end.
type Running struct {
	conn *net.UnixConn
	r    *bufio.Reader
}

// Run forks a try as Start does and keeps the connection to wait for its
// end (Running.Wait): one connection per try instead of two.
func (c Client) Run(ctx context.Context, spec TrySpec) (Proc, *Running, error) {
	if err := c.checkGuard(spec); err != nil {
		return Proc{}, nil, err
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return Proc{}, nil, err
	}
	conn.SetDeadline(time.Now().Add(dialTimeout))
	r := bufio.NewReader(conn)
	rep, err := exchange(conn, r, Request{V: c.V, Op: OpRun, Try: &spec, Gen: c.Gen})
	if err != nil {
		conn.Close()
		return Proc{}, nil, err
	}
	if rep.Proc == nil {
		conn.Close()
		return Proc{}, nil, errors.New("supervisor run: no process in the reply")
	}
	conn.SetDeadline(time.Time{})
	return *rep.Proc, &Running{conn: conn, r: r}, nil
}

// Wait blocks until the try ends, the supervisor dies (an error: the try's
// fate is then for crash recovery) or ctx ends; the connection is closed
// on return (the try runs on if it has not ended).
func (w *Running) Wait(ctx context.Context) (Exit, error) {
	defer w.conn.Close()
	stop := context.AfterFunc(ctx, func() { w.conn.Close() })
	defer stop()
	var rep Reply
	err := readFrame(w.r, &rep)
	switch {
	case ctx.Err() != nil:
		return Exit{}, ctx.Err()
	case err != nil:
		return Exit{}, fmt.Errorf("supervisor wait: %w", err)
	case !rep.OK:
		return Exit{}, fmt.Errorf("%w: %s", ErrRefused, rep.Error)
	case rep.Exit == nil:
		return Exit{}, errors.New("supervisor wait: no exit in the reply")
	}
	return *rep.Exit, nil
}

// Close lets go of the try without waiting (it runs on).
func (w *Running) Close() { w.conn.Close() }

// Stop asks the supervisor to stop a try: SIGTERM to its group, SIGKILL
// after grace. It returns at once; Wait tells when it ended.
func (c Client) Stop(ctx context.Context, token string, grace time.Duration) error {
	_, err := c.call(ctx, Request{Op: OpStop, Token: token, GraceMS: grace.Milliseconds()})
	return err
}

// Wait blocks until the try ends, the supervisor dies (an error: the try's
// fate is then for crash recovery) or ctx ends.
func (c Client) Wait(ctx context.Context, token string) (Exit, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return Exit{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	rep, err := exchange(conn, bufio.NewReader(conn), Request{V: c.V, Op: OpWait, Token: token})
	if err != nil {
		if ctx.Err() != nil {
			return Exit{}, ctx.Err()
		}
		return Exit{}, err
	}
	if rep.Exit == nil {
		return Exit{}, errors.New("supervisor wait: no exit in the reply")
	}
	return *rep.Exit, nil
}

// Attach holds the supervisor alive until the returned function is called
// or this process dies (the kernel closes the connection).
func (c Client) Attach(ctx context.Context) (release func(), err error) {
	a, err := c.AttachWatching(ctx)
	if err != nil {
		return nil, err
	}
	return a.Release, nil
}

// Found is a live supervisor of a home.
type Found struct {
	Client        // V is the protocol version it speaks
	Hello  *Reply // its answer, or nil when it refused (Err says why)
	Err    error
}

// Fenced reports whether the supervisor refuses starts from conductors older
// than the one that claimed it (protocol 2 and later).
func (f Found) Fenced() bool { return f.V == 0 || f.V >= 2 }

// Find lists the supervisors whose sockets are in dir, asking each its
// tries. Sockets nobody listens on are removed: their supervisor is dead.
func Find(ctx context.Context, dir string) []Found { return FindClaiming(ctx, dir, 0) }

// FindClaiming is Find by the conductor of generation gen, which claims
// each supervisor as it lists its tries (see Client.Claim). A supervisor of
// an older protocol version is spoken to in its version; one outside the
// versions this code speaks is returned with Err saying why.
func FindClaiming(ctx context.Context, dir string, gen uint64) []Found {
	names, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
	sort.Strings(names)
	var out []Found
	for _, p := range names {
		pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".sock"))
		if err != nil || pid <= 0 {
			continue
		}
		c := Client{Path: p, Gen: gen}
		rep, err := c.Claim(ctx)
		if err != nil && rep != nil && rep.V != ProtocolVersion {
			if rep.V < MinProtocolVersion || rep.V > ProtocolVersion {
				err = fmt.Errorf("it speaks protocol version %d, this conductor %d to %d: %w",
					rep.V, MinProtocolVersion, ProtocolVersion, err)
			} else {
				c.V = rep.V // an older supervisor: speak its version
				rep, err = c.Claim(ctx)
			}
		}
		if err != nil && !errors.Is(err, ErrRefused) {
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
				os.Remove(p)
			}
			continue
		}
		f := Found{Client: c, Err: err}
		if err == nil {
			f.Hello = rep
		}
		out = append(out, f)
	}
	return out
}

// Spawn starts a supervisor from the executable exe (`exe supervise`) in
// its own session, so that the conductor's death or its group's signals do
// not reach it, and returns once it answers.
func Spawn(ctx context.Context, exe, dir, version, logPath string) (Client, int, error) {
	return SpawnNotify(ctx, exe, dir, version, logPath, nil)
}

// SpawnNotify is Spawn telling started the supervisor's pid as soon as it
// is forked, before it answers (a conductor's reaper must know it by then:
// it stops unknown children).
func SpawnNotify(ctx context.Context, exe, dir, version, logPath string, started func(pid int)) (Client, int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Client{}, 0, fmt.Errorf("create supervisors folder: %w", err)
	}
	cmd := exec.Command(exe, "supervise", "--dir", dir, "--version", version)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if logPath != "" {
		if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			defer f.Close()
			cmd.Stderr = f
		}
	}
	if err := cmd.Start(); err != nil {
		return Client{}, 0, fmt.Errorf("start supervisor: %w", err)
	}
	pid := cmd.Process.Pid
	if started != nil {
		started(pid)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it should it fail; it outlives us otherwise
	c := Client{Path: SocketPath(dir, pid)}
	deadline := time.Now().Add(dialTimeout)
	for {
		if _, err := c.Hello(ctx); err == nil {
			return c, pid, nil
		}
		select {
		case err := <-exited:
			return Client{}, 0, fmt.Errorf("supervisor exited at start: %v", err)
		case <-ctx.Done():
			cmd.Process.Kill()
			return Client{}, 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return Client{}, 0, errors.New("supervisor did not answer within 5s")
		}
	}
}
