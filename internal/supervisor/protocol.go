// Package supervisor keeps a conductor's running tries alive across the
// conductor's own restarts, upgrades and crashes, the way containerd-shim or
// conmon keep containers alive across their daemon's restarts.
//
// One supervisor serves one conductor process: the conductor starts it (the
// same mzt binary, re-executed with a hidden subcommand) and asks it to fork
// every try. The supervisor forks the instrument itself, straight into its
// own process group (and cgroup), with its output files as its stdout and
// stderr, is the subreaper of everything the try starts, and records each
// exit status (in its run's exit journal, or the try's `.exit` file) before
// it tells anyone. A new
// conductor finds the supervisors of its home by their sockets, asks each
// for its live tries, and waits on them as if it had started them.
//
// Why one per conductor and not one per try: a per-try shim costs an exec
// per try, the very cost the supervisor removes (the exit-code wrapper was
// one), and doubles the processes a busy conductor keeps. Why not one per
// home that outlives every conductor: a supervisor built by an older mzt
// would then run forever; one per conductor lets an upgrade retire the old
// code naturally, as each old supervisor exits once its last try has ended
// and no conductor holds it.
package supervisor

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is the newest version of the wire protocol, and
// MinProtocolVersion the oldest this code still speaks, on both sides: a
// supervisor serves requests of any version in between; a conductor speaks
// an older supervisor's version (it learns it from the refusal) and falls
// back to crash recovery for the tries of a supervisor outside the range.
//
// Version 2 added conductor generations (Request.Gen): a claiming hello and
// fenced starts. Version 1 supervisors are adopted without the fence.
// Version 3 added the orphan deadline (TrySpec.KillIfOrphanedMS): an older
// supervisor would ignore the field, so a conductor does not send such a
// try to one.
const (
	ProtocolVersion    = 3
	MinProtocolVersion = 1
)

// MaxFrame bounds one request or reply: a try's prompt travels on stdin and
// may be large, but not unbounded.
const MaxFrame = 16 << 20

// Ops of a request.
const (
	OpHello  = "hello"  // who are you, and which tries do you hold
	OpStart  = "start"  // fork a try
	OpWait   = "wait"   // reply once the try has ended
	OpStop   = "stop"   // SIGTERM the try's group, SIGKILL after a grace
	OpAttach = "attach" // hold the supervisor: it lives while a conductor attaches or a try runs
	// OpRun is start then wait on one connection (protocol 2): a reply
	// with the process, then one with the exit. A connection per try
	// instead of two.
	OpRun = "run"
)

// Request is one frame from a conductor.
type Request struct {
	V       int      `json:"v"`
	Op      string   `json:"op"`
	Token   string   `json:"token,omitempty"`
	Try     *TrySpec `json:"try,omitempty"`
	GraceMS int64    `json:"grace_ms,omitempty"`
	// Gen is the sender's conductor generation (protocol 2): on hello it
	// claims the supervisor, on attach and start it must not be older than
	// the last claim.
	Gen uint64 `json:"gen,omitempty"`
}

// Reply is one frame from the supervisor.
type Reply struct {
	V     int    `json:"v"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`

	// hello
	PID     int       `json:"pid,omitempty"`
	Version string    `json:"version,omitempty"` // the mzt version of the supervisor's binary
	Tries   []TryInfo `json:"tries,omitempty"`

	// start
	Proc *Proc `json:"proc,omitempty"`
	// wait
	Exit *Exit `json:"exit,omitempty"`
}

// TrySpec is one try to fork.
type TrySpec struct {
	Token      string   `json:"token"` // the try's identity (run key/sheet/try)
	Argv       []string `json:"argv"`  // argv[0] is an absolute path
	Env        []string `json:"env"`
	Dir        string   `json:"dir"`
	Stdin      string   `json:"stdin,omitempty"`
	StdoutPath string   `json:"stdout"` // created or truncated, 0600
	StderrPath string   `json:"stderr"` // may equal StdoutPath
	ExitPath   string   `json:"exit"`   // the exit status, written before anyone is told
	// ExitJournal, when set, is where the exit status goes instead: a
	// record named after ExitPath's base name, appended to this run-wide
	// journal (see internal/tryjournal). A supervisor that predates the
	// field ignores it and writes ExitPath, so a conductor reads both.
	ExitJournal string `json:"exit_journal,omitempty"`
	CgroupDir   string `json:"cgroup,omitempty"`
	// StartedUnixMS is when the conductor started the try: an adopting
	// conductor measures timeouts from it.
	StartedUnixMS int64 `json:"started_ms"`
	// TimeoutMS is the try's timeout, kept for the adopting conductor.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// KillIfOrphanedMS (protocol 3), when set, is how long the try may run
	// with no conductor holding the supervisor (attached, or waiting on a
	// try) and none claiming it: then the supervisor stops it (SIGTERM to
	// its group, SIGKILL after OrphanGraceMS) and records it as killed. A
	// fleet job's try sets it below the member's lease TTL, so that it is
	// dead before the job can be placed on another member.
	KillIfOrphanedMS int64 `json:"kill_if_orphaned_ms,omitempty"`
	OrphanGraceMS    int64 `json:"orphan_grace_ms,omitempty"`
}

// Proc identifies a forked try beyond its pid.
type Proc struct {
	PID        int    `json:"pid"`
	PGID       int    `json:"pgid"`
	StartTicks uint64 `json:"start_ticks"`
}

// Exit is how a try ended.
type Exit struct {
	Code     int    `json:"code"`             // -1 when killed by a signal
	Signal   string `json:"signal,omitempty"` // e.g. "killed"
	EndedMS  int64  `json:"ended_ms"`
	Recorded bool   `json:"recorded"` // the exit file was written
	// Orphaned: the supervisor stopped it because no conductor held it in
	// time; its exit file then records a death by signal whatever the
	// try's own exit code, so a returning conductor runs it again.
	Orphaned bool `json:"orphaned,omitempty"`
}

// TryInfo is a try a supervisor holds, live or ended and not yet collected.
type TryInfo struct {
	Spec TrySpec `json:"spec"`
	Proc Proc    `json:"proc"`
	Exit *Exit   `json:"exit,omitempty"`
}

// writeFrame writes v as one JSON line.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if len(b) > MaxFrame {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(b), MaxFrame)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// errFrameTooBig is returned for a frame beyond MaxFrame.
var errFrameTooBig = errors.New("frame too big")

// readFrame reads one JSON line into v, refusing more than MaxFrame bytes.
func readFrame(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxFrame {
			return errFrameTooBig
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}
