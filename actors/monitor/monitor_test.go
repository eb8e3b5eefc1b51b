package monitor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/strict"
	"github.com/mzt-dev/mzt/internal/proctable"
)

const waitFor = 10 * time.Second

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startTree starts cmd in its own process group and kills the group at cleanup.
func startTree(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return cmd
}

// sampleUntil samples this process until cond holds or the deadline passes.
func sampleUntil(t *testing.T, what string, cond func(Sample) bool) Sample {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		s, err := TakeSample(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last sample %+v", what, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTakeSampleCountsDescendants(t *testing.T) {
	before, err := TakeSample(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.ConductorBytes == 0 || before.AvailableBytes == 0 {
		t.Fatalf("sample of this process %+v: RSS and available memory must be > 0", before)
	}
	startTree(t, "sleep", "60")
	startTree(t, "sh", "-c", "sleep 60 & wait") // a child and a grandchild
	after := sampleUntil(t, "three more descendants (sleep, sh and its sleep)", func(s Sample) bool {
		return s.Processes >= before.Processes+3
	})
	if after.SheetBytes <= before.SheetBytes {
		t.Errorf("descendant RSS did not grow: %d -> %d", before.SheetBytes, after.SheetBytes)
	}
}

func TestTakeSampleUnknownProcess(t *testing.T) {
	// PIDs are below pid_max (at most 2^22 on Linux).
	if _, err := TakeSample(1 << 30); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("TakeSample(no such pid) err = %v, want not found", err)
	}
}

func TestReadProcCommWithParentheses(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	// A command name with ") " in it must not shift the fields.
	odd := filepath.Join(t.TempDir(), "a) b (c")
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := startTree(t, odd, "60")
	e, err := proctable.Read(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if e.PPID != os.Getpid() {
		t.Errorf("parsed ppid %d, want %d", e.PPID, os.Getpid())
	}
}

func newSystem(t *testing.T) *actor.ActorSystem {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return discardLog() }))
	t.Cleanup(sys.Shutdown)
	return sys
}

func newProbe(t *testing.T, sys *actor.ActorSystem) (*actor.PID, chan any) {
	t.Helper()
	ch := make(chan any, 1000)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
			return
		}
		ch <- c.Message()
	}))
	t.Cleanup(func() { sys.Root.Stop(pid) })
	return pid, ch
}

func receive[T any](t *testing.T, ch chan any) T {
	t.Helper()
	select {
	case m := <-ch:
		v, ok := m.(T)
		if !ok {
			var zero T
			t.Fatalf("got %T (%+v), want %T", m, m, zero)
		}
		return v
	case <-time.After(waitFor):
		var zero T
		t.Fatalf("no %T within %v", zero, waitFor)
		return zero
	}
}

// scriptedSampler answers from a script, then with the last entry forever.
type scriptedSampler struct {
	mu     sync.Mutex
	script []func() (Sample, error)
	calls  int
}

func (s *scriptedSampler) sample(int) (Sample, error) {
	s.mu.Lock()
	i := min(s.calls, len(s.script)-1)
	s.calls++
	step := s.script[i]
	s.mu.Unlock()
	return step()
}

func (s *scriptedSampler) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func TestMonitorFailsClosedAfterSamplerErrors(t *testing.T) {
	cfg := config.Defaults()
	cfg.MonitorInterval = strict.Duration(time.Millisecond)
	gate := make(chan struct{})
	fail := func() (Sample, error) { return Sample{}, errors.New("no /proc here") }
	healthy := func() (Sample, error) {
		<-gate // hold the recovery until the test has looked at the failed state
		return Sample{ConductorBytes: 10 << 20, AvailableBytes: 1 << 30}, nil
	}
	sampler := &scriptedSampler{script: []func() (Sample, error){
		fail,
		func() (Sample, error) { panic("sampler bug") }, // a panic counts as a failure
		fail,
		healthy,
	}}
	sys := newSystem(t)
	probe, ch := newProbe(t, sys)
	mon := sys.Root.Spawn(Props(cfg, probe, discardLog(), sampler.sample))
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
		sys.Root.StopFuture(mon).Wait()
	})

	changed := receive[*PressureChanged](t, ch)
	if changed.Level != High {
		t.Errorf("after 3 failed samples pressure is %s, want high", changed.Level)
	}
	if !strings.Contains(changed.Note, "3 times") || !strings.Contains(changed.Note, "no /proc here") {
		t.Errorf("note %q should say how often sampling failed and why", changed.Note)
	}
	if n := sampler.callCount(); n < 3 {
		t.Errorf("pressure changed after %d samples, want the third", n)
	}

	sys.Root.RequestWithCustomSender(mon, &SnapshotRequest{}, probe)
	snap := receive[Snapshot](t, ch)
	if snap.Pressure != High || snap.Note != changed.Note {
		t.Errorf("snapshot while failing = %+v", snap)
	}
	if snap.MemoryLimitMB != 8192 || snap.ProcessLimit != 512 {
		t.Errorf("snapshot limits %v MB / %d processes, want the configured 8192 / 512", snap.MemoryLimitMB, snap.ProcessLimit)
	}

	// Sampling works again: the pressure lifts and the note clears.
	close(gate)
	changed = receive[*PressureChanged](t, ch)
	if changed.Level != None || changed.Note != "" {
		t.Errorf("after a good sample: %+v, want none with no note", changed)
	}
}

func TestMonitorReportsRisingPressure(t *testing.T) {
	cfg := config.Defaults()
	cfg.MonitorInterval = strict.Duration(time.Millisecond)
	cfg.ResourceLimits.MaxProcesses = 100
	sampler := &scriptedSampler{script: []func() (Sample, error){
		func() (Sample, error) { return Sample{Processes: 10}, nil },
		func() (Sample, error) { return Sample{Processes: 72}, nil }, // 72% of processes: medium
		func() (Sample, error) { return Sample{Processes: 96}, nil }, // critical
		func() (Sample, error) { return Sample{Processes: 93}, nil }, // within hysteresis: still critical
		func() (Sample, error) { return Sample{Processes: 20}, nil }, // none
	}}
	sys := newSystem(t)
	probe, ch := newProbe(t, sys)
	mon := sys.Root.Spawn(Props(cfg, probe, discardLog(), sampler.sample))
	t.Cleanup(func() { sys.Root.StopFuture(mon).Wait() })
	// While critical, every sample is reported (the jobs actor keeps
	// acting), with the usage it was computed from.
	var got []string
	for len(got) == 0 || got[len(got)-1] != "none" {
		m := receive[*PressureChanged](t, ch)
		got = append(got, m.Level.String())
		if m.Level == Critical && (m.Usage.Processes < 93 || m.Usage.ProcessLimit != 100) {
			t.Errorf("critical reading carries usage %+v, want 96 or 93 of 100 processes", m.Usage)
		}
	}
	if fmt.Sprint(got) != "[medium critical critical none]" {
		t.Errorf("pressure reports %v, want [medium critical critical none]", got)
	}
}
