// Package cli is the mzt command line: parse, call the conductor through the
// client package, print. It never imports the actors (a test checks); the
// only way it runs a conductor is the function main hands it.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/config"
	"google.golang.org/protobuf/proto"
)

// Version is set at build time (-ldflags "-X ...cli.Version=...").
var Version = defaultVersion

// defaultVersion is the version of a build that sets none.
const defaultVersion = "0.1.0-dev"

// ConductorOptions is what `start --foreground` and the detached child hand
// to the conductor.
type ConductorOptions struct {
	Paths   config.Paths
	Load    config.LoadOptions
	Version string
	Stderr  io.Writer               // readable logs; nil when detached
	Ready   func(pid, stalePID int) // called once serving
}

// AlreadyRunning marks the conductor's "already running" error; its message
// names the PID holding the lock, or the socket that answered.
type AlreadyRunning interface{ RunningPID() int }

// Env is what main wires in.
type Env struct {
	Stdout, Stderr io.Writer
	RunConductor   func(ConductorOptions) error
	// NewRemoteNode starts this process's protoactor node (nil in mzt,
	// which hands commands that need one over to mzt-conductor).
	NewRemoteNode func(opts client.RemoteOptions, firstPeer string) (RemoteNode, error)
}

// Globals are flags every command has.
type Globals struct {
	Clone  string `help:"Select a clone conductor (its files live under <home>/clones/NAME)." env:"MZT_CLONE" placeholder:"NAME"`
	Remote string `help:"Talk to a conductor on another host through its Conductor service ([api] listen, mutual TLS): a remote named in <home>/client.toml, or HOST:PORT." env:"MZT_REMOTE" placeholder:"NAME|HOST:PORT"`

	env   Env
	ctx   context.Context
	paths config.Paths
	node  RemoteNode // the protoactor node of --remote, started on first use
	args  []string   // the command line, for a hand-over to mzt-conductor
	// waitReconnect is `mzt run --wait --reconnect`; nil: the default.
	waitReconnect *time.Duration
}

// CLI is the whole command tree.
type CLI struct {
	Globals

	Start           StartCmd           `cmd:"" help:"Start the conductor (in the background unless --foreground)." group:"Conductor"`
	Stop            StopCmd            `cmd:"" help:"Stop the conductor." group:"Conductor"`
	Restart         RestartCmd         `cmd:"" help:"Stop the conductor if it runs, then start it." group:"Conductor"`
	ConductorStatus ConductorStatusCmd `cmd:"" name:"conductor-status" help:"Show the conductor's health, work and resources." group:"Conductor"`
	ConductorRun    ConductorRunCmd    `cmd:"" name:"conductor-run" hidden:"" help:"Run the detached conductor (used by start)."`
	Supervise       SuperviseCmd       `cmd:"" hidden:"" help:"Hold a conductor's running sheets across its restarts (used by the conductor)."`

	Run         RunCmd         `cmd:"" help:"Validate a score and submit it as a job." group:"Jobs"`
	Status      StatusCmd      `cmd:"" help:"Show the job table, or one job's sheets." group:"Jobs"`
	List        ListCmd        `cmd:"" help:"List active jobs (--all adds finished ones)." group:"Jobs"`
	Pause       PauseCmd       `cmd:"" help:"Start no new sheets of the jobs; running sheets finish." group:"Jobs"`
	Resume      ResumeCmd      `cmd:"" help:"Run paused, failed or cancelled jobs again, keeping completed sheets." group:"Jobs"`
	Retry       RetryCmd       `cmd:"" help:"Run one sheet of a job again (and with --downstream what depends on it), with the score as it is now." group:"Jobs"`
	Cancel      CancelCmd      `cmd:"" help:"Cancel jobs and stop every process they started." group:"Jobs"`
	Group       GroupCmd       `cmd:"" help:"Manage job groups, which limit how many of their jobs run at once." group:"Jobs"`
	Logs        LogsCmd        `cmd:"" help:"Show the captured output of a job's sheets." group:"Jobs"`
	Validate    ValidateCmd    `cmd:"" help:"Check a score without running it." group:"Jobs"`
	Instruments InstrumentsCmd `cmd:"" help:"List instruments and whether their executables are on PATH." group:"Jobs"`
	Events      EventsCmd      `cmd:"" help:"Show the conductor's events (job and sheet transitions, pressure, stalls, anomalies)." group:"Jobs"`
	Insights    InsightsCmd    `cmd:"" help:"Show statistics per score, stage and instrument from history." group:"Jobs"`
	Clean       CleanCmd       `cmd:"" help:"Remove finished runs with their logs and workspaces (never an active job)." group:"Jobs"`
	Top         TopCmd         `cmd:"" help:"Watch the conductor, its jobs and running sheets live; pause, resume or cancel a job." group:"Jobs"`

	Fleet Fleet `cmd:"" help:"Show every conductor of the fleet ([[fleet.peer]] in conductor.toml)." group:"Hosts"`
	Certs Certs `cmd:"" help:"Create the certificates remote conductors and clients authenticate with." group:"Hosts"`

	Config     ConfigCmd     `cmd:"" help:"Show the conductor's configuration." group:"Other"`
	Service    ServiceCmd    `cmd:"" help:"Install or remove a systemd unit for the conductor." group:"Other"`
	Version    VersionCmd    `cmd:"" help:"Print the version." group:"Other"`
	Completion CompletionCmd `cmd:"" help:"Print a shell completion script (bash, zsh or fish)." group:"Other"`
	Complete   CompleteCmd   `cmd:"" name:"__complete" hidden:"" help:"Words for shell completion (used by the completion scripts)."`
}

// Exit codes: 0 ok, 1 failed or refused, 2 bad usage or input.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// cliError is an error with its exit code and an optional next step.
type cliError struct {
	code int
	msg  string
	hint string
}

func (e *cliError) Error() string { return e.msg }

func failf(code int, hint, format string, args ...any) error {
	return &cliError{code: code, msg: fmt.Sprintf(format, args...), hint: hint}
}

func newParser(c *CLI, env Env) (*kong.Kong, error) {
	return kong.New(c,
		kong.Name("mzt"),
		kong.Description("mzt runs scores of AI-agent and shell sheets through a conductor daemon."),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(int) {}),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
}

// Main runs one command and returns the process exit code.
func Main(args []string, env Env) int {
	var c CLI
	parser, err := newParser(&c, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: %v\n", err)
		return exitFailed
	}
	helpShown := false
	parser.Exit = func(int) { helpShown = true }
	kctx, err := parser.Parse(args)
	if helpShown {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "Error: %v\n", err)
		fmt.Fprintln(env.Stderr, "Try: mzt --help")
		return exitUsage
	}
	if c.Clone != "" || cloneFlagGiven(kctx) {
		if err := config.ValidateCloneName(c.Clone); err != nil {
			return report(env, failf(exitUsage, "", "%v", err))
		}
	}
	paths, err := config.Resolve(c.Clone)
	if err != nil {
		return report(env, failf(exitUsage, "", "%v", err))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c.Globals.env, c.Globals.ctx, c.Globals.paths = env, ctx, paths
	c.Globals.args = args
	if err := checkRemote(&c.Globals, kctx.Command()); err != nil {
		return report(env, err)
	}
	return report(env, kctx.Run(&c.Globals))
}

// cloneFlagGiven reports whether --clone was on the command line: an
// explicit empty name is invalid, unlike an empty MZT_CLONE (unset).
func cloneFlagGiven(kctx *kong.Context) bool {
	for _, p := range kctx.Path {
		if p.Flag != nil && p.Flag.Name == "clone" {
			return true
		}
	}
	return false
}

// report prints err in the one way errors are said and picks the exit code.
func report(env Env, err error) int {
	if err == nil {
		return exitOK
	}
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.msg != "" {
			fmt.Fprintf(env.Stderr, "Error: %s\n", ce.msg)
		}
		if ce.hint != "" {
			fmt.Fprintf(env.Stderr, "Try: %s\n", ce.hint)
		}
		return ce.code
	}
	var re *client.RemoteError
	if errors.As(err, &re) {
		fmt.Fprintf(env.Stderr, "Error: %s\n", re.Message)
		if re.Hint != "" {
			fmt.Fprintf(env.Stderr, "Try: %s\n", re.Hint)
		}
		if errors.Is(err, client.ErrInvalidScore) {
			return exitUsage
		}
		return exitFailed
	}
	if errors.Is(err, client.ErrNotRunning) {
		fmt.Fprintln(env.Stderr, "Error: conductor is not running")
		fmt.Fprintln(env.Stderr, "Try: mzt start")
		return exitFailed
	}
	fmt.Fprintf(env.Stderr, "Error: %v\n", err)
	return exitFailed
}

// printJSON writes one object; callers put `Schema string `json:"schema"“ first.
func (g *Globals) printJSON(v any) error {
	enc := json.NewEncoder(g.env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

func (g *Globals) printf(format string, args ...any) {
	fmt.Fprintf(g.env.Stdout, format, args...)
}

// dial connects to the selected conductor. Every command that talks to a
// conductor goes through here (or call), so that choosing another transport
// is one change.
func (g *Globals) dial() (client.Conn, error) {
	if g.Remote != "" {
		return g.dialRemote()
	}
	return client.Dial(g.ctx, g.paths.Socket)
}

// call sends one request to the selected conductor and checks the reply type.
func call[T proto.Message](g *Globals, ctx context.Context, req proto.Message) (T, error) {
	var zero T
	conn, err := g.dial()
	if err != nil {
		return zero, err
	}
	defer conn.Close()
	return client.RequestAs[T](ctx, conn, req)
}

// schema is the first field of every JSON object mzt prints.
const schema = "mzt/v1"
