package sheetrun

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultKillGrace is how long a process group gets between SIGTERM and SIGKILL when Spec.KillGrace is 0.
const DefaultKillGrace = 5 * time.Second

// TailSize is how many trailing bytes of stdout and stderr a Result keeps.
const TailSize = 4 << 10

// Spec describes one process to run.
type Spec struct {
	Argv      []string      // argv[0] is looked up in the PATH of Env (else of the conductor) unless it holds a '/'
	Stdin     string        // written to stdin, then stdin is closed; "" = /dev/null
	Dir       string        // cwd (the workspace); must exist
	Env       []string      // full environment; nil = the conductor's own
	Timeout   time.Duration // 0 = none
	KillGrace time.Duration // SIGTERM to the group, SIGKILL after this; 0 = DefaultKillGrace

	// StdoutPath and StderrPath are created or truncated and receive the output as it is written.
	// Empty means discard. They may be the same path (one interleaved file).
	StdoutPath, StderrPath string
	SuccessCodes           []int // nil = [0]

	// Started is called from Run's goroutine right after the process started, with what a
	// crash-recovery reaper needs to find exactly this process group again later.
	Started func(Proc)

	// CgroupFD, when UseCgroup is set, is a cgroup v2 directory the process is cloned into:
	// its descendants cannot leave it, whatever sessions or groups they make.
	UseCgroup bool
	CgroupFD  int

	// LogCap, when > 0, caps each of CappedLogs (files the process writes
	// itself, e.g. through a wrapper) at about that many bytes: past it the
	// middle of the file is dropped, its head and tail kept (see logcap.go).
	LogCap     int64
	CappedLogs []string
}

// Proc identifies a started process beyond its pid, which the kernel may reuse.
type Proc struct {
	PID, PGID  int
	StartTicks uint64 // field 22 of /proc/PID/stat: start time in clock ticks since boot
}

// Result is the outcome of Run.
type Result struct {
	ExitCode           int    // -1 when killed by a signal or never started
	Signal             string // e.g. "killed", "terminated" when the process died of a signal
	TimedOut, Canceled bool
	Success            bool // ExitCode in SuccessCodes and not timed out or canceled
	Started, Ended     time.Time
	// StdoutTail and StderrTail are the last TailSize bytes of each stream (read back from the
	// files, trimmed to start on a UTF-8 boundary).
	StdoutTail, StderrTail string
	Err                    error    // the process could not be started, or Run failed internally
	Notes                  []string // what happened to the try beside its exit: e.g. a log capped
}

// Run starts the process in its own process group, streams its output to files and waits for it.
// Cancelling ctx, or reaching spec.Timeout, sends SIGTERM to the whole group and SIGKILL after
// the grace period. Once the leader has exited, whatever is left in its group is SIGKILLed so
// nothing the sheet started there survives. Processes that left the group (setsid) are the
// subreaper's business. Run never panics: internal failures come back in Result.Err.
func Run(ctx context.Context, spec Spec) (res Result) {
	res.ExitCode = -1
	pgid := 0           // set once the process exists, so a panic still cleans it up
	var stdinW *os.File // likewise, so a panic cannot strand the stdin writer
	defer func() {
		if r := recover(); r != nil {
			if pgid > 0 {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			if stdinW != nil {
				stdinW.Close()
			}
			res.Success = false
			res.Err = fmt.Errorf("internal error running %q: %v\n%s", first(spec.Argv), r, debug.Stack())
		}
		if res.Ended.IsZero() {
			res.Ended = time.Now()
		}
	}()

	if ctx.Err() != nil {
		res.Canceled = true // not worth starting something only to kill it
		return res
	}
	cmd, files, err := prepare(spec)
	defer files.close()
	if err != nil {
		res.Err = err
		return res
	}
	stdinW, err = attachStdin(cmd, spec.Stdin)
	if err != nil {
		res.Err = err
		return res
	}

	res.Started = time.Now()
	startErr := cmd.Start()
	if stdinR, ok := cmd.Stdin.(*os.File); ok && stdinR != nil {
		stdinR.Close() // the child has its copy; ours would keep the pipe open forever
	}
	if startErr != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		res.Err = startError(spec, startErr)
		return res
	}
	pid := cmd.Process.Pid
	pgid = pid // Setpgid with Pgid 0: the child leads a new group named after itself
	defer capLogs(spec, &res)()

	// The writer stops when the child has read everything, or when we close stdinW after the
	// group is gone (Close unblocks a pending Write on a pipe).
	stdinDone := make(chan struct{})
	if stdinW != nil {
		go func() {
			defer close(stdinDone)
			_, _ = stdinW.WriteString(spec.Stdin) // EPIPE just means the child did not want it all
			stdinW.Close()
		}()
	} else {
		close(stdinDone)
	}

	// Identify the process before anything can reap it: until Wait below, a fast exit leaves a
	// zombie whose /proc entry still answers.
	var hookErr error
	if spec.Started != nil {
		ticks, _ := ProcStartTicks(pid)
		hookErr = callStarted(spec.Started, Proc{PID: pid, PGID: pgid, StartTicks: ticks})
	}

	// exited closes when the leader has exited but is not reaped yet: as a
	// zombie it keeps its PID, and so the group id, from being recycled, so
	// every signal to -pgid below reaches this sheet's processes and nobody
	// else's. cmd.Wait reaps it last.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		var info unix.Siginfo
		for {
			if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != unix.EINTR {
				return
			}
		}
	}()
	if hookErr != nil {
		// Whoever should have recorded this process does not know it: do not let it run unseen.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		<-exited
		cmd.Wait()
		stdinW.Close()
		<-stdinDone
		res.Ended = time.Now()
		res.Err = hookErr
		return res
	}

	var timeout <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-exited:
	case <-ctx.Done():
		res.Canceled = true
		terminate(cmd, pgid, grace(spec.KillGrace), exited)
	case <-timeout:
		res.TimedOut = true
		terminate(cmd, pgid, grace(spec.KillGrace), exited)
	}
	res.Ended = time.Now()

	// The leader has exited; its group may not have. The unreaped leader
	// pins the group id, so this reaches only what this sheet left behind.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	err = cmd.Wait()
	if stdinW != nil {
		stdinW.Close()
	}
	<-stdinDone

	res.ExitCode, res.Signal = exitStatus(cmd)
	if err != nil && res.ExitCode == -1 && res.Signal == "" {
		res.Err = fmt.Errorf("waiting for %q: %w", first(spec.Argv), err)
	}
	res.Success = res.Err == nil && !res.TimedOut && !res.Canceled && res.Signal == "" &&
		slices.Contains(successCodes(spec.SuccessCodes), res.ExitCode)

	files.close()
	res.StdoutTail = readTail(spec.StdoutPath, TailSize)
	if spec.StderrPath != spec.StdoutPath {
		res.StderrTail = readTail(spec.StderrPath, TailSize)
	}
	return res
}

// terminate asks the group to stop, gives it grace, then kills it. It
// returns once the leader has exited (unreaped: the group id stays ours).
func terminate(cmd *exec.Cmd, pgid int, grace time.Duration, exited <-chan struct{}) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	select {
	case <-exited:
		// The leader obeyed; give the rest of the group what is left of the grace period.
		waitGroupGone(pgid, deadline.C)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		waitKilled(pgid)
		return
	case <-deadline.C:
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = cmd.Process.Kill() // in case the leader moved itself to another group
	<-exited
	waitKilled(pgid)
}

// waitKilled gives a SIGKILLed group a moment to be gone, so that a stopped
// sheet means stopped processes (and their escaped children reach the
// subreaper while it still looks).
func waitKilled(pgid int) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	waitGroupGone(pgid, t.C)
}

// waitGroupGone polls until no live process is left in the group or until is closed/fires.
func waitGroupGone(pgid int, until <-chan time.Time) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for groupAlive(pgid) {
		select {
		case <-until:
			return
		case <-tick.C:
		}
	}
}

// KillGroup sends SIGTERM to the process group pgid, waits up to grace for it to empty, then
// sends SIGKILL. A group that is already gone is not an error. It is also what crash cleanup uses
// on groups recorded by a previous conductor, after checking their identity (pid and start ticks).
func KillGroup(pgid int, grace time.Duration) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to kill process group %d", pgid)
	}
	if own, err := syscall.Getpgid(0); err == nil && own == pgid {
		return fmt.Errorf("refusing to kill process group %d: it is the conductor's own", pgid)
	}
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("signal process group %d: %w", pgid, err)
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	waitGroupGone(pgid, deadline.C)
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	return nil
}

// outputFiles are the files handed to the child; closed once it has exited.
type outputFiles []*os.File

func (o *outputFiles) close() {
	for _, f := range *o {
		f.Close()
	}
	*o = nil
}

// prepare checks the spec and builds the command with its output files attached.
func prepare(spec Spec) (*exec.Cmd, outputFiles, error) {
	var files outputFiles
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, files, errors.New("no command to run (empty argv)")
	}
	if err := checkWorkspace(spec.Dir); err != nil {
		return nil, files, err
	}
	path, err := lookPath(spec.Argv[0], spec.Env)
	if err != nil {
		return nil, files, err
	}
	cmd := &exec.Cmd{
		Path: path,
		Args: spec.Argv,
		Dir:  spec.Dir,
		Env:  spec.Env,
		// Own group so signals reach everything the sheet starts. No Pdeathsig: a conductor
		// restart must not kill running sheets; crash cleanup finds them by pgid and start time.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, UseCgroupFD: spec.UseCgroup, CgroupFD: spec.CgroupFD},
	}
	// Files, not pipes: the child writes straight to disk, so no copying goroutine can hang on a
	// grandchild that keeps the pipe open, and memory stays flat whatever the output size.
	open := func(p string) (*os.File, error) {
		if p == "" {
			return nil, nil // exec gives the child /dev/null
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("create log folder: %w", err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open sheet log: %w", err)
		}
		files = append(files, f)
		return f, nil
	}
	out, err := open(spec.StdoutPath)
	if err != nil {
		return nil, files, err
	}
	errf := out
	if spec.StderrPath != spec.StdoutPath {
		if errf, err = open(spec.StderrPath); err != nil {
			return nil, files, err
		}
	}
	// Assigning a nil *os.File to the io.Writer field would make a non-nil interface.
	if out != nil {
		cmd.Stdout = out
	}
	if errf != nil {
		cmd.Stderr = errf
	}
	return cmd, files, nil
}

// attachStdin gives the child the read end of a pipe and returns the write end for Run to fill.
func attachStdin(cmd *exec.Cmd, stdin string) (*os.File, error) {
	if stdin == "" {
		return nil, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create stdin pipe: %w", err)
	}
	cmd.Stdin = r
	return w, nil
}

func checkWorkspace(dir string) error {
	if dir == "" {
		return errors.New("no workspace given")
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("workspace %s does not exist (was it removed?)", dir)
	case err != nil:
		return fmt.Errorf("workspace %s: %w", dir, err)
	case !st.IsDir():
		return fmt.Errorf("workspace %s is not a directory", dir)
	}
	return nil
}

// LookPath resolves name in the PATH of env (the child's), as Run does.
func LookPath(name string, env []string) (string, error) { return lookPath(name, env) }

// lookPath resolves name like exec.LookPath, but in the PATH the child will get: an instrument's
// env may put its executable on a PATH the conductor does not have.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil // relative paths are resolved against Dir by exec
	}
	pathList, found := "", false
	for i := len(env) - 1; i >= 0; i-- { // the last assignment wins, as in the child
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			pathList, found = v, true
			break
		}
	}
	if !found {
		pathList = os.Getenv("PATH")
	}
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // relative PATH entries would depend on the workspace: never trust them
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable %q not found in PATH (%s)", name, pathList)
}

func startError(spec Spec, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		// Either the executable or the workspace disappeared between our checks and the fork.
		if checkWorkspace(spec.Dir) != nil {
			return checkWorkspace(spec.Dir)
		}
		return fmt.Errorf("executable %q not found: %w", spec.Argv[0], err)
	}
	return fmt.Errorf("start %q: %w", spec.Argv[0], err)
}

// callStarted runs the caller's hook, turning its panic into an error.
func callStarted(f func(Proc), p Proc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("started hook panicked: %v", r)
		}
	}()
	f(p)
	return nil
}

func exitStatus(cmd *exec.Cmd) (code int, signal string) {
	if cmd.ProcessState == nil {
		return -1, ""
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String()
	}
	return cmd.ProcessState.ExitCode(), ""
}

func grace(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultKillGrace
	}
	return d
}

func successCodes(c []int) []int {
	if len(c) == 0 {
		return []int{0}
	}
	return c
}

func first(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	return argv[0]
}
