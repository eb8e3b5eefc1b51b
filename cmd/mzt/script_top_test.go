package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the scripts that drive the real `mzt top` in a terminal
// (testdata/script/top_*.txtar): a tmux server of the script's own (its
// socket in $WORK), one session at a time, read back with capture-pane.
// The server, and with it every process in its panes, is killed when the
// script ends, passed or failed.
func init() {
	scriptCmds["tmuxstart"] = cmdTmuxStart
	scriptCmds["tmuxkeys"] = cmdTmuxKeys
	scriptCmds["tmuxscreen"] = cmdTmuxScreen
	scriptCmds["tmuxexit"] = cmdTmuxExit
	scriptCmds["tmuxsignal"] = cmdTmuxSignal
}

// tmuxSession is the script's current session: each tmuxstart makes a new
// one (mzt1, mzt2, ...) on the same server, the old ones left as they are.
func tmuxSession(ts *testscript.TestScript) string {
	return "mzt" + ts.Getenv("TMUX_SESSION_N")
}

func tmuxCmd(ts *testscript.TestScript, args ...string) *exec.Cmd {
	sock := filepath.Join(ts.Getenv("WORK"), ".tmux.sock")
	cmd := exec.Command("tmux", append([]string{"-u", "-S", sock, "-f", filepath.Join(ts.Getenv("WORK"), ".tmux.conf")}, args...)...)
	cmd.Dir = ts.Getenv("WORK")
	env := []string{"TERM=xterm-256color", "LANG=C.UTF-8"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TMUX") && !strings.HasPrefix(kv, "TERM=") && !strings.HasPrefix(kv, "LANG=") {
			env = append(env, kv)
		}
	}
	for _, k := range []string{"MARIANNE_HOME", "MZT_CLONE", "PATH", "HOME", "GORACE"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	cmd.Env = env
	return cmd
}

func tmuxRun(ts *testscript.TestScript, args ...string) string {
	out, err := tmuxCmd(ts, args...).CombinedOutput()
	if err != nil {
		ts.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tmuxstart PROG ARGS...: run PROG in a new 160x50 tmux session; the pane
// stays after PROG exits so that its screen can be read, and a shell around
// PROG writes PROG's exit status to a file for tmuxexit (tmux's own
// #{pane_dead_status} is not reliable: tmux 3.3 may mark a pane dead and
// leave its process unreaped).
func cmdTmuxStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: tmuxstart PROG ARGS...")
	}
	conf := filepath.Join(ts.Getenv("WORK"), ".tmux.conf")
	if _, err := os.Stat(conf); err != nil {
		ts.Check(os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g status off\n"), 0o600))
		ts.Defer(func() { tmuxKillServer(ts) })
	}
	n, _ := strconv.Atoi(ts.Getenv("TMUX_SESSION_N"))
	ts.Setenv("TMUX_SESSION_N", strconv.Itoa(n+1))
	tmuxRun(ts, append([]string{"new-session", "-d", "-x", "160", "-y", "50", "-s", tmuxSession(ts),
		"-c", ts.Getenv("WORK"), "sh", "-c", `"$@"; echo $? > "$0"`, tmuxExitFile(ts)}, args...)...)
	pid := strings.TrimSpace(tmuxRun(ts, "display-message", "-p", "-t", tmuxSession(ts), "#{pane_pid}"))
	ts.Setenv("TMUX_PANE_PIDS", strings.TrimSpace(ts.Getenv("TMUX_PANE_PIDS")+" "+pid))
}

func tmuxExitFile(ts *testscript.TestScript) string {
	return filepath.Join(ts.Getenv("WORK"), ".tmux-exit-"+tmuxSession(ts))
}

// tmuxKillServer ends the script's tmux server and makes sure no process it
// ran in a pane outlives it: each pane's process leads its own process
// group, which gets SIGKILL if it has not gone after the hangup.
func tmuxKillServer(ts *testscript.TestScript) {
	tmuxCmd(ts, "kill-server").Run()
	for _, f := range strings.Fields(ts.Getenv("TMUX_PANE_PIDS")) {
		pgid, _ := strconv.Atoi(f)
		if pgid <= 1 {
			continue
		}
		if !waitUntil(5*time.Second, func() bool { return syscall.Kill(-pgid, 0) != nil }) {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
}

// tmuxkeys KEY...: type keys into the session (tmux send-keys names: q, Up,
// C-c, ...).
func cmdTmuxKeys(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: tmuxkeys KEY...")
	}
	tmuxRun(ts, append([]string{"send-keys", "-t", tmuxSession(ts)}, args...)...)
}

// tmuxscreen [!] REGEXP [TIMEOUT]: wait until the screen (with the
// scrollback above it) matches REGEXP in multi-line mode; negated, until it
// does not. The screen is kept in the file "screen" for further checks, and
// shown when the wait fails.
func cmdTmuxScreen(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: tmuxscreen [!] REGEXP [TIMEOUT]")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	var screen string
	ok := waitUntil(timeout, func() bool {
		screen = tmuxRun(ts, "capture-pane", "-p", "-S", "-", "-t", tmuxSession(ts))
		return re.MatchString(screen) != neg
	})
	ts.Check(os.WriteFile(ts.MkAbs("screen"), []byte(screen), 0o600))
	if !ok {
		ts.Fatalf("after %s the screen %s %q:\n%s", timeout, map[bool]string{false: "does not match", true: "still matches"}[neg], args[0], screen)
	}
}

// tmuxexit N [TIMEOUT]: wait until the program in the session has exited
// and require exit status N.
func cmdTmuxExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: tmuxexit N [TIMEOUT]")
	}
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	var got string
	ok := waitUntil(timeout, func() bool {
		data, err := os.ReadFile(tmuxExitFile(ts))
		got = strings.TrimSpace(string(data))
		return err == nil && strings.HasSuffix(string(data), "\n")
	})
	if !ok {
		ts.Fatalf("the program in tmux has not exited after %s:\n%s", timeout, tmuxRun(ts, "capture-pane", "-p", "-S", "-", "-t", tmuxSession(ts)))
	}
	if got != args[0] {
		ts.Fatalf("the program in tmux exited %s, want %s:\n%s", got, args[0], tmuxRun(ts, "capture-pane", "-p", "-S", "-", "-t", tmuxSession(ts)))
	}
}

// tmuxsignal TERM|INT|HUP: send a signal to the program tmuxstart started
// (the child of the pane's shell).
func cmdTmuxSignal(ts *testscript.TestScript, neg bool, args []string) {
	sigs := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}
	if neg || len(args) != 1 || sigs[args[0]] == 0 {
		ts.Fatalf("usage: tmuxsignal TERM|INT|HUP")
	}
	shell := strings.TrimSpace(tmuxRun(ts, "display-message", "-p", "-t", tmuxSession(ts), "#{pane_pid}"))
	data, err := os.ReadFile("/proc/" + shell + "/task/" + shell + "/children")
	ts.Check(err)
	kids := strings.Fields(string(data))
	if len(kids) != 1 {
		ts.Fatalf("the pane's shell %s has children %q, want the one program", shell, kids)
	}
	pid, err := strconv.Atoi(kids[0])
	ts.Check(err)
	ts.Check(syscall.Kill(pid, sigs[args[0]]))
}
