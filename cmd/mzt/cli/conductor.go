package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/pidfile"
)

// startFlags are shared by start and restart.
type startFlags struct {
	Foreground bool   `help:"Run in this terminal with readable logs on stderr; exits on SIGTERM/SIGINT."`
	Config     string `help:"Config file (default: <home>/conductor.toml when it exists)." type:"path" placeholder:"FILE"`
	Profile    string `help:"Built-in profile: dev, intensive or minimal." enum:"dev,intensive,minimal," default:""`
	LogLevel   string `help:"Log level: debug, info, warn or error." enum:"debug,info,warn,error," default:""`
}

func (f startFlags) loadOptions(p config.Paths) config.LoadOptions {
	opts := config.LoadOptions{File: p.ConfigFile, Profile: f.Profile, LogLevel: f.LogLevel}
	if f.Config != "" {
		opts.File, opts.Explicit = f.Config, true
	}
	return opts
}

// readyTimeout is how long start waits for the detached conductor to answer.
const readyTimeout = 10 * time.Second

// StartCmd is `mzt start`.
type StartCmd struct {
	startFlags
}

func (c *StartCmd) Run(g *Globals) error { return c.start(g) }

func (c *startFlags) start(g *Globals) error {
	opts := c.loadOptions(g.paths)
	// Refuse a bad config here, where the user sees the problem with its line.
	if _, err := config.Load(opts); err != nil {
		return failf(exitUsage, "", "%v", err)
	}
	if err := g.paths.EnsureHome(); err != nil {
		return err
	}
	if c.Foreground && g.env.RunConductor == nil {
		return c.execForeground(g)
	}
	if c.Foreground {
		return g.runConductor(opts, os.Stderr, func(pid, stale int) {
			if stale != 0 {
				fmt.Fprintln(g.env.Stderr, staleNote(stale))
			}
		})
	}
	if st, err := pidfile.Inspect(g.paths.PIDFile); err != nil {
		return err
	} else if st.Running {
		return failf(exitFailed, "", "conductor is already running (PID %d)", st.PID)
	}
	// The PID file may have been deleted under a live conductor: its socket
	// still answers, and a second conductor must not even begin to start.
	if pid := g.answeringPID(); pid != 0 {
		return failf(exitFailed, "", "conductor is already running (PID %d, answers at %s)", pid, g.paths.Socket)
	}
	return c.startDetached(g)
}

// startDetached runs the conductor binary in a new session with stdio
// detached and a pipe on fd 3, and waits for the child to say it serves (or
// why it cannot).
func (c *startFlags) startDetached(g *Globals) error {
	exe, err := g.conductorExe()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("readiness pipe: %w", err)
	}
	defer r.Close()
	logFile, err := os.OpenFile(g.paths.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		w.Close()
		return fmt.Errorf("open %s: %w", g.paths.Log, err)
	}
	defer logFile.Close()
	cmd := exec.Command(exe, append([]string{"conductor-run", "--ready-fd=3"}, c.args()...)...)
	cmd.Env = g.conductorEnv()
	cmd.Dir = "/"
	// A Go panic goes to stderr: keep it in the log instead of losing it.
	cmd.Stdout, cmd.Stderr = nil, logFile
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start conductor: %w", err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	r.SetReadDeadline(time.Now().Add(readyTimeout))
	line, readErr := bufio.NewReader(r).ReadString('\n')
	word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch {
	case word == "ready":
		pidStr, staleStr, _ := strings.Cut(rest, " ")
		if stale, _ := strconv.Atoi(staleStr); stale != 0 {
			g.printf("%s\n", staleNote(stale))
		}
		g.printf("conductor started (PID %s)\n", pidStr)
		return nil
	case word == "running":
		return failf(exitFailed, "", "%s", rest)
	case word == "error":
		return failf(exitFailed, "", "conductor failed to start: %s%s", rest, logTail(g.paths.Log))
	case errors.Is(readErr, os.ErrDeadlineExceeded):
		cmd.Process.Kill()
		return failf(exitFailed, "", "conductor did not become ready within %s (log: %s)%s", readyTimeout, g.paths.Log, logTail(g.paths.Log))
	default:
		err := <-exited
		return failf(exitFailed, "", "conductor exited during start-up (%v; log: %s)%s", err, g.paths.Log, logTail(g.paths.Log))
	}
}

// logTail returns the last lines of the log, indented, for start failures.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	lines = lines[max(0, len(lines)-10):]
	return "\nlast log lines:\n  " + strings.Join(lines, "\n  ")
}

func (g *Globals) runConductor(opts config.LoadOptions, stderr *os.File, ready func(pid, stale int)) error {
	if g.env.RunConductor == nil {
		return errors.New("this mzt binary cannot run a conductor (" + conductorBinary + " does)")
	}
	err := g.env.RunConductor(ConductorOptions{Paths: g.paths, Load: opts, Version: Version, Stderr: stderr, Ready: ready})
	var running AlreadyRunning
	if errors.As(err, &running) {
		return failf(exitFailed, "", "%v", err)
	}
	return err
}

// ConductorRunCmd is the detached conductor itself (started by `mzt start`).
type ConductorRunCmd struct {
	ReadyFD  int    `name:"ready-fd" help:"File descriptor to report readiness on."`
	Config   string `type:"path"`
	Profile  string
	LogLevel string
}

func (c *ConductorRunCmd) Run(g *Globals) error {
	if g.env.RunConductor == nil {
		return failf(exitUsage, "mzt start", "conductor-run is %s's: mzt runs no conductor itself", conductorBinary)
	}
	var ready *os.File
	if c.ReadyFD > 0 {
		ready = os.NewFile(uintptr(c.ReadyFD), "ready")
		defer ready.Close()
	}
	say := func(format string, args ...any) {
		if ready != nil {
			fmt.Fprintf(ready, format+"\n", args...)
			ready.Close()
			ready = nil
		}
	}
	f := startFlags{Config: c.Config, Profile: c.Profile, LogLevel: c.LogLevel}
	err := g.env.RunConductor(ConductorOptions{Paths: g.paths, Load: f.loadOptions(g.paths), Version: Version,
		Ready: func(pid, stale int) { say("ready %d %d", pid, stale) }})
	var running AlreadyRunning
	switch {
	case errors.As(err, &running):
		say("running %s", err.Error())
		return failf(exitFailed, "", "%v", err)
	case err != nil:
		say("error %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		return err
	}
	return nil
}

// socketDir is used by tests that need to know where a conductor listens.
func socketDir(p config.Paths) string { return filepath.Dir(p.Socket) }
