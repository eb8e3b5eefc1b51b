package supervisor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/tryjournal"
)

// maxEnded bounds the ended tries kept for a conductor to collect; beyond
// it the oldest go (their exit files still settle them).
const maxEnded = 4096

// try is one forked try.
type try struct {
	spec  TrySpec
	proc  Proc
	exit  *Exit         // set once it ended and was recorded
	ended chan struct{} // closed with exit set
	stop  sync.Once
	guard guard // the orphan timer, under table.mu
}

// table holds the supervisor's tries; the reap loop is the only one that
// reaps, so a fast exit can never be lost between fork and registration.
type table struct {
	mu      sync.Mutex
	live    map[int]*try    // by pid
	byToken map[string]*try // live and ended, until collected
	ended   []string        // tokens of ended tries, oldest first
	wake    chan struct{}   // a child exists: the reap loop may wait
	idle    chan struct{}   // signalled whenever a try ends
	sweep   chan struct{}   // likewise, for the orphan sweep
	// fence is the generation of the newest conductor that claimed or
	// attached: starts from older ones are refused. Checked under mu, as
	// the fork and the listing are, so a claim's list is exactly what runs.
	fence uint64
	// holders counts the conductor connections held (attachments, waits):
	// at zero the orphan guard's timers run.
	holders int
	log     *slog.Logger
}

// errFenced refuses a conductor older than the supervisor's owner.
type errFenced struct{ gen, fence uint64 }

func (e errFenced) Error() string {
	return fmt.Sprintf("conductor generation %d is older than generation %d, which now owns this supervisor", e.gen, e.fence)
}

// claim makes gen the owner and lists the tries, in one step: no start of
// an older generation can land after the list is taken.
func (t *table) claim(gen uint64) ([]TryInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen < t.fence {
		return nil, errFenced{gen, t.fence}
	}
	t.fence = gen
	return t.listLocked(), nil
}

// own raises the fence to gen (an attach); an older gen is refused.
func (t *table) own(gen uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen < t.fence {
		return errFenced{gen, t.fence}
	}
	t.fence = gen
	return nil
}

func newTable() *table {
	return &table{live: map[int]*try{}, byToken: map[string]*try{},
		wake: make(chan struct{}, 1), idle: make(chan struct{}, 1), sweep: make(chan struct{}, 1)}
}

// start forks spec's instrument in its own process group with its output
// files; it returns once the try is registered.
func (t *table) start(spec TrySpec, gen uint64) (*try, error) {
	if len(spec.Argv) == 0 || !filepath.IsAbs(spec.Argv[0]) {
		return nil, errors.New("argv[0] must be an absolute path")
	}
	if spec.Token == "" || spec.ExitPath == "" {
		return nil, errors.New("a try needs a token and an exit path")
	}
	// Checked again under mu below; checked here too so that a fenced
	// request does not even create (or truncate) the try's output files.
	t.mu.Lock()
	fence := t.fence
	t.mu.Unlock()
	if gen < fence {
		return nil, errFenced{gen, fence}
	}
	files, stdinW, err := openFiles(spec)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	attr := &syscall.ProcAttr{Dir: spec.Dir, Env: spec.Env, Files: fds(files),
		Sys: &syscall.SysProcAttr{Setpgid: true}}
	var cg *os.File
	if spec.CgroupDir != "" {
		if cg, err = os.Open(spec.CgroupDir); err != nil {
			if stdinW != nil {
				stdinW.Close()
			}
			return nil, fmt.Errorf("open cgroup %s: %w", spec.CgroupDir, err)
		}
		defer cg.Close()
		attr.Sys.UseCgroupFD, attr.Sys.CgroupFD = true, int(cg.Fd())
	}

	t.mu.Lock()
	if gen < t.fence {
		fence := t.fence
		t.mu.Unlock()
		if stdinW != nil {
			stdinW.Close()
		}
		// Claimed while its files were being opened: they were made for a
		// try that never runs (its name is its own; the new conductor runs
		// the sheet as another try).
		for _, p := range []string{spec.StdoutPath, spec.StderrPath} {
			if p != "" {
				os.Remove(p)
			}
		}
		return nil, errFenced{gen, fence}
	}
	if _, dup := t.byToken[spec.Token]; dup {
		t.mu.Unlock()
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, fmt.Errorf("try %s is already known", spec.Token)
	}
	pid, err := syscall.ForkExec(spec.Argv[0], spec.Argv, attr)
	if err != nil {
		t.mu.Unlock()
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, fmt.Errorf("start %q: %w", spec.Argv[0], err)
	}
	// Until the reap loop takes t.mu, the child is unreaped: its /proc
	// entry answers even if it already exited.
	ticks, _ := sheetrun.ProcStartTicks(pid)
	tr := &try{spec: spec, proc: Proc{PID: pid, PGID: pid, StartTicks: ticks}, ended: make(chan struct{}),
		guard: newGuard(spec)}
	t.live[pid] = tr
	t.byToken[spec.Token] = tr
	if t.holders == 0 {
		t.armTryLocked(tr) // started with no conductor holding on (a bare start)
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	if stdinW != nil {
		go func() {
			defer func() { _ = recover() }()
			_, _ = stdinW.WriteString(spec.Stdin) // EPIPE: the child did not want it all
			stdinW.Close()
		}()
	}
	return tr, nil
}

// openFiles opens what the child gets as fds 0, 1 and 2, and the write end
// of its stdin pipe when it has input.
func openFiles(spec TrySpec) (files []*os.File, stdinW *os.File, err error) {
	files = make([]*os.File, 3)
	if spec.Stdin != "" {
		r, w, err := os.Pipe()
		if err != nil {
			return files, nil, fmt.Errorf("stdin pipe: %w", err)
		}
		files[0], stdinW = r, w
	} else if files[0], err = os.Open(os.DevNull); err != nil {
		return files, nil, err
	}
	open := func(p string) (*os.File, error) {
		if p == "" {
			return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, fmt.Errorf("create log folder: %w", err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open sheet log: %w", err)
		}
		return f, nil
	}
	if files[1], err = open(spec.StdoutPath); err != nil {
		return files, stdinW, err
	}
	if spec.StderrPath == spec.StdoutPath {
		files[2], err = files[1], nil
		files = files[:2] // closed once
		return append(files, nil), stdinW, nil
	}
	files[2], err = open(spec.StderrPath)
	return files, stdinW, err
}

func fds(files []*os.File) []uintptr {
	out := make([]uintptr, 3)
	for i := range out {
		f := files[i]
		if f == nil && i == 2 {
			f = files[1] // stderr shares stdout's file
		}
		out[i] = f.Fd()
	}
	return out
}

// reapLoop reaps every child (the supervisor is a subreaper, so orphans of
// the tries land here too) until quit closes. A try's leader is first seen
// exited but unreaped: as a zombie it pins its group id, so the SIGKILL to
// the group reaches what this try left and nobody else.
func (t *table) reapLoop(quit <-chan struct{}) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.ECHILD) {
			select {
			case <-quit:
				return
			case <-t.wake:
			case <-time.After(time.Second):
			}
			continue
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		t.reapOne(siginfoPID(&info))
		select {
		case <-quit:
			return
		default:
		}
	}
}

// reapOne reaps pid and, when it is a try's leader, records how it ended.
func (t *table) reapOne(pid int) {
	t.mu.Lock()
	tr := t.live[pid]
	t.mu.Unlock()
	if tr != nil {
		_ = syscall.Kill(-tr.proc.PGID, syscall.SIGKILL)
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if tr == nil {
		return // an orphan of some try: reaped, nothing to record
	}
	ex := &Exit{Code: ws.ExitStatus(), EndedMS: time.Now().UnixMilli()}
	recorded := ex.Code
	if ws.Signaled() {
		ex.Code, ex.Signal = -1, ws.Signal().String()
		recorded = 128 + int(ws.Signal()) // as a shell reports it: recovery reads >128 as a kill
	}
	t.mu.Lock()
	if tr.guard.timer != nil {
		tr.guard.timer.Stop()
		tr.guard.timer = nil
		tr.guard.seq++
	}
	orphaned := t.orphanedLocked(tr)
	t.mu.Unlock()
	if orphaned {
		ex.Orphaned = true
		if recorded <= 128 {
			recorded = orphanExitCode
		}
	}
	ex.Recorded = recordExit(tr.spec, recorded, time.UnixMilli(ex.EndedMS)) == nil
	t.mu.Lock()
	delete(t.live, pid)
	tr.exit = ex
	t.ended = append(t.ended, tr.spec.Token)
	for len(t.ended) > maxEnded {
		delete(t.byToken, t.ended[0])
		t.ended = t.ended[1:]
	}
	t.mu.Unlock()
	close(tr.ended)
	for _, c := range []chan struct{}{t.idle, t.sweep} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// recordExit records how a try ended, in its run's exit journal when the
// conductor named one (one append instead of a file created and renamed
// per try), else in its own exit file; either way before anyone is told.
func recordExit(spec TrySpec, code int, ended time.Time) error {
	if spec.ExitJournal != "" {
		return tryjournal.AppendExit(spec.ExitJournal, filepath.Base(spec.ExitPath), code, ended)
	}
	return writeExit(spec.ExitPath, code)
}

// writeExit records code: a conductor that starts after a crash (its own
// or the supervisor's) reads it to settle the try instead of running it
// again. Written whole (temporary file, then rename) so no reader sees half
// of it; not fsynced: it must outlive processes, not the machine (after a
// power loss nothing of the try runs any more, and a try without its exit
// file is run again, as before), and an fsync per try costs more than the
// try itself when sheets are short.
func writeExit(path string, code int) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write exit file: %w", err)
	}
	_, err = f.WriteString(strconv.Itoa(code) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write exit file: %w", err)
	}
	return nil
}

// stopTry sends SIGTERM to the try's group and SIGKILL after grace; the
// supervisor finishes it even if the conductor that asked goes away.
func (t *table) stopTry(tr *try, grace time.Duration) {
	tr.stop.Do(func() {
		_ = syscall.Kill(-tr.proc.PGID, syscall.SIGTERM)
		go func() {
			defer func() { _ = recover() }()
			timer := time.NewTimer(grace)
			defer timer.Stop()
			select {
			case <-tr.ended:
			case <-timer.C:
				_ = syscall.Kill(-tr.proc.PGID, syscall.SIGKILL)
				_ = syscall.Kill(tr.proc.PID, syscall.SIGKILL) // a leader that left its group
			}
		}()
	})
}

// lookup finds a try by token.
func (t *table) lookup(token string) *try {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byToken[token]
}

// collect forgets an ended try once a conductor has its exit.
func (t *table) collect(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.byToken[token]; tr != nil && tr.exit != nil {
		delete(t.byToken, token)
		for i, tok := range t.ended {
			if tok == token {
				t.ended = append(t.ended[:i], t.ended[i+1:]...)
				break
			}
		}
	}
}

// snapshot lists the tries held.
func (t *table) snapshot() (out []TryInfo, live int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.listLocked(), len(t.live)
}

func (t *table) listLocked() (out []TryInfo) {
	for _, tr := range t.byToken {
		out = append(out, TryInfo{Spec: redact(tr.spec), Proc: tr.proc, Exit: tr.exit})
	}
	return out
}

// redact drops what a listing need not carry (the prompt, the environment).
func redact(s TrySpec) TrySpec {
	s.Stdin, s.Env = "", nil
	return s
}
