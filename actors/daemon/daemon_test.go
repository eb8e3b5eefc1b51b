package daemon

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// started is what the test middleware learns when a subsystem starts: enough
// to send it messages on the conductor's own actor system.
type started struct {
	name string
	sys  *actor.ActorSystem
	pid  *actor.PID
}

// conductor is a Run in a goroutine with a private home.
type conductor struct {
	paths   config.Paths
	starts  chan started
	done    chan error
	ready   chan ReadyInfo
	stopped bool
}

func startConductor(t *testing.T) *conductor {
	t.Helper()
	// Short: the socket path must fit in sun_path.
	home, err := os.MkdirTemp("", "mztd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	paths, err := config.ResolveIn(home, "")
	if err != nil {
		t.Fatal(err)
	}
	c := &conductor{paths: paths, starts: make(chan started, 100), done: make(chan error, 1), ready: make(chan ReadyInfo, 1)}
	mw := func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
			switch m := env.Message.(type) {
			case *actor.Started:
				c.starts <- started{name: childName(ctx.Self()), sys: ctx.ActorSystem(), pid: ctx.Self()}
			case *panicNow:
				panic(m.reason)
			}
			next(ctx, env)
		}
	}
	opts := Options{
		Paths: paths, Version: "test",
		Ready:           func(info ReadyInfo) { c.ready <- info },
		childMiddleware: []actor.ReceiverMiddleware{mw},
	}
	go func() { c.done <- Run(opts) }()
	select {
	case info := <-c.ready:
		if info.PID != os.Getpid() {
			t.Errorf("ready with PID %d, want %d", info.PID, os.Getpid())
		}
	case err := <-c.done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(waitFor):
		t.Fatal("conductor not ready within", waitFor)
	}
	t.Cleanup(func() {
		if !c.stopped {
			c.stop(t)
		}
	})
	return c
}

// awaitStart waits for subsystem name to (re)start.
func (c *conductor) awaitStart(t *testing.T, name string) started {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case s := <-c.starts:
			if s.name == name {
				return s
			}
		case <-deadline:
			t.Fatalf("subsystem %s did not start within %v", name, waitFor)
		}
	}
}

func (c *conductor) health(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := client.Call[*messages.HealthResponse](ctx, c.paths.Socket, &messages.HealthRequest{})
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	if res.GetPid() != int64(os.Getpid()) || !res.GetReady() {
		t.Errorf("health = %v", res)
	}
}

// wait waits for Run to return.
func (c *conductor) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.stopped = true
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func (c *conductor) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := client.Call[*messages.ShutdownResponse](ctx, c.paths.Socket,
		&messages.ShutdownRequest{Mode: messages.ShutdownMode_SHUTDOWN_MODE_FORCE})
	if err != nil {
		t.Errorf("shutdown request: %v", err)
	}
	if err := c.wait(t); err != nil {
		t.Errorf("Run after a shutdown request: %v", err)
	}
}

func (c *conductor) checkCleanedUp(t *testing.T) {
	t.Helper()
	for _, p := range []string{c.paths.PIDFile, c.paths.Socket} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind after the conductor stopped (err %v)", p, err)
		}
	}
}

func (c *conductor) log(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(c.paths.Log)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRunRestartsPanickingSubsystem(t *testing.T) {
	c := startConductor(t)
	mon := c.awaitStart(t, "monitor")
	mon.sys.Root.Send(mon.pid, &panicNow{reason: "injected monitor failure"})
	again := c.awaitStart(t, "monitor")
	if again.pid.GetId() != mon.pid.GetId() {
		t.Errorf("monitor restarted as %s, want the same %s", again.pid.GetId(), mon.pid.GetId())
	}
	c.health(t) // the conductor kept serving
	// conductor-status asks the monitor: the restarted one answers.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	status, err := client.Call[*messages.ConductorStatus](ctx, c.paths.Socket, &messages.ConductorStatusRequest{})
	if err != nil {
		t.Fatalf("conductor-status after the monitor restarted: %v", err)
	}
	if status.GetProcessLimit() == 0 {
		t.Errorf("conductor-status has no monitor data: %v", status)
	}
	c.stop(t)
	c.checkCleanedUp(t)
	log := c.log(t)
	for _, want := range []string{"subsystem panicked; restarting", "injected monitor failure", `"subsystem":"monitor"`} {
		if !strings.Contains(log, want) {
			t.Errorf("conductor.log lacks %q", want)
		}
	}
}

func TestRunStoreFailureShutsDownCleanly(t *testing.T) {
	c := startConductor(t)
	st := c.awaitStart(t, "store")
	c.health(t)
	st.sys.Root.Send(st.pid, &panicNow{reason: "injected store failure"})
	// Run's error is not asserted: whether a conductor that lost its store
	// should exit non-zero is for the contract to say.
	c.wait(t)
	c.checkCleanedUp(t)
	log := c.log(t)
	for _, want := range []string{
		"critical subsystem failed; the conductor will shut down", "injected store failure",
		"essential subsystem stopped; shutting down the conductor", `"reason":"store failed"`, "conductor stopped",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("conductor.log lacks %q", want)
		}
	}
	// The store never came back.
	for {
		select {
		case s := <-c.starts:
			if s.name == "store" {
				t.Error("the store was restarted after failing")
			}
			continue
		default:
		}
		break
	}
}
