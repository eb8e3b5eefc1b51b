// Package monitor owns the conductor's view of its resources: it samples the
// conductor and every process below it, turns the reading into a pressure
// level against the configured limits, and tells the jobs actor when that
// level changes. Sampling runs outside Receive; the actor only keeps results.
package monitor

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/messages"
)

// SnapshotRequest asks for the latest reading; the reply is a Snapshot.
type SnapshotRequest struct{}

// Snapshot is the monitor's latest reading and verdict.
type Snapshot struct {
	MemoryMB      float64
	MemoryLimitMB float64
	Processes     int
	ProcessLimit  int
	AvailableMB   float64
	Pressure      Level
	Note          string // set when sampling fails and pressure is assumed high
	Accounting    string // how memory was measured: cgroup, pss or rss
	SampledAt     time.Time
}

// PressureChanged is sent to the subscriber when the level changes, and
// while it is critical after every sample, so that the subscriber keeps
// acting until the pressure lifts.
type PressureChanged struct {
	Level Level
	Note  string
	Usage Usage // what the level was computed from (without units when sampling failed)
}

// Usage is a reading against the limits, with each try's share.
type Usage struct {
	MemoryMB, MemoryLimitMB float64
	Processes, ProcessLimit int
	Units                   []Unit
}

// MemoryPercent and ProcessPercent are the usage of each limit.
func (u Usage) MemoryPercent() float64 { return percent(u.MemoryMB, u.MemoryLimitMB) }

func (u Usage) ProcessPercent() float64 {
	return percent(float64(u.Processes), float64(u.ProcessLimit))
}

func percent(v, limit float64) float64 {
	if limit <= 0 {
		return 0
	}
	return 100 * v / limit
}

// Reconfigure applies reloaded limits and interval.
type Reconfigure struct{ Config *config.Config }

type sampled struct {
	sample Sample
	err    error
}

// failClosedAfter is how many failed samples in a row make the monitor assume
// high pressure: a conductor that cannot see its memory must not keep
// starting work.
const failClosedAfter = 3

// Actor is the monitor.
type Actor struct {
	cfg        *config.Config
	subscriber *actor.PID
	log        *slog.Logger
	sampler    func(root int) (Sample, error)
	cgroups    *cgroup.Tree // nil: no per-sheet limits to set
	warned     string       // the last "limits not enforced" warning, logged once
	units      []Unit       // each try's share in the latest good sample

	snap     Snapshot
	failures int
	timer    *mailbox.Timer
	stopped  bool
}

// Props builds the monitor; subscriber (the jobs actor) receives PressureChanged.
func Props(cfg *config.Config, subscriber *actor.PID, log *slog.Logger, sampler func(int) (Sample, error)) *actor.Props {
	return props(cfg, subscriber, log, sampler, nil)
}

// PropsWithCgroups builds the monitor of a conductor whose sheets run in
// tree's cgroups (nil: process groups): it measures through them and sets
// the per-sheet limits they enforce.
func PropsWithCgroups(cfg *config.Config, subscriber *actor.PID, log *slog.Logger, tree *cgroup.Tree) *actor.Props {
	return props(cfg, subscriber, log, NewSampler(tree), tree)
}

// PropsWithSupervisors is PropsWithCgroups also measuring the tries that
// the home's earlier supervisors (their sockets in supervisorsDir) hold.
func PropsWithSupervisors(cfg *config.Config, subscriber *actor.PID, log *slog.Logger, tree *cgroup.Tree,
	supervisorsDir string) *actor.Props {
	return props(cfg, subscriber, log, NewSamplerOf(tree, supervisorsDir), tree)
}

func props(cfg *config.Config, subscriber *actor.PID, log *slog.Logger, sampler func(int) (Sample, error),
	tree *cgroup.Tree) *actor.Props {
	if sampler == nil {
		sampler = TakeSample
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{cfg: cfg, subscriber: subscriber, log: log, sampler: sampler, cgroups: tree}
	})
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.stopped = false
		a.applyLimits()
		a.sampleSoon(ctx, 0)
	case *actor.Stopping, *actor.Restarting:
		a.stopped = true
		a.timer.Stop()
	case *SnapshotRequest:
		ctx.Respond(a.snap)
	case *Reconfigure:
		a.cfg = m.Config
		a.applyLimits()
	case *sampled:
		a.record(ctx, m)
		a.sampleSoon(ctx, time.Duration(a.cfg.MonitorInterval))
	}
}

func (a *Actor) applyLimits() {
	a.snap.MemoryLimitMB = float64(a.cfg.ResourceLimits.MaxMemoryMB)
	a.snap.ProcessLimit = a.cfg.ResourceLimits.MaxProcesses
	a.applySheetLimits()
}

// sampleSoon takes the next sample in a goroutine after d, reporting back
// with a message; a panic in sampling is reported, never fatal.
func (a *Actor) sampleSoon(ctx actor.Context, d time.Duration) {
	if a.stopped {
		return
	}
	sampler := a.sampler
	a.timer = mailbox.AfterGo(ctx.ActorSystem().Root, ctx.Self(), d, func() any {
		var out sampled
		out.sample, out.err = sampler(os.Getpid())
		return &out
	}, func(err error) any { return &sampled{err: fmt.Errorf("sampler: %w", err)} })
}

func (a *Actor) record(ctx actor.Context, m *sampled) {
	prev, prevNote := a.snap.Pressure, a.snap.Note
	if m.err != nil {
		a.failures++
		a.log.Warn("resource sampling failed", "err", m.err, "consecutive", a.failures)
		if a.failures >= failClosedAfter {
			a.snap.Pressure = max(a.snap.Pressure, High)
			a.snap.Note = fmt.Sprintf("resource sampling failed %d times in a row (%v); assuming high pressure", a.failures, m.err)
		}
	} else {
		a.failures = 0
		a.snap.Note = ""
		s := m.sample
		a.snap.MemoryMB = float64(s.ConductorBytes+s.SheetBytes) / (1 << 20)
		a.snap.Processes = s.Processes
		a.snap.Accounting = s.Accounting
		a.units = s.Units
		a.snap.AvailableMB = float64(s.AvailableBytes) / (1 << 20)
		a.snap.SampledAt = time.Now()
		bp := a.cfg.Backpressure
		a.snap.Pressure = NextLevel(a.snap.Pressure, a.usagePercent(), Thresholds{bp.Low, bp.Medium, bp.High, bp.Critical})
	}
	// While critical, every fresh reading goes out (not a failed one: the
	// subscriber would act on nothing).
	if a.snap.Pressure != prev || a.snap.Note != prevNote || a.snap.Pressure == Critical && m.err == nil {
		if a.snap.Pressure != prev {
			a.log.Info("pressure changed", "from", prev.String(), "to", a.snap.Pressure.String(),
				"memory_mb", int(a.snap.MemoryMB), "processes", a.snap.Processes, "accounting", a.snap.Accounting)
			ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: string(messages.EventPressure), Status: a.snap.Pressure.String(),
				Detail: fmt.Sprintf("from %s; memory %.0f of %.0f MB, %d of %d processes%s", prev, a.snap.MemoryMB,
					a.snap.MemoryLimitMB, a.snap.Processes, a.snap.ProcessLimit, noteSuffix(a.snap.Note))})
		}
		if a.subscriber != nil {
			u := a.usage()
			if m.err == nil {
				u.Units = a.units
			}
			ctx.Send(a.subscriber, &PressureChanged{Level: a.snap.Pressure, Note: a.snap.Note, Usage: u})
		}
	}
}

// usagePercent is the usage of whichever limit is nearer.
func (a *Actor) usagePercent() float64 {
	u := a.usage()
	return max(u.MemoryPercent(), u.ProcessPercent())
}

// usage is the latest reading against the limits, without units.
func (a *Actor) usage() Usage {
	return Usage{MemoryMB: a.snap.MemoryMB, MemoryLimitMB: a.snap.MemoryLimitMB, Processes: a.snap.Processes,
		ProcessLimit: a.snap.ProcessLimit}
}

func noteSuffix(note string) string {
	if note == "" {
		return ""
	}
	return "; " + note
}
