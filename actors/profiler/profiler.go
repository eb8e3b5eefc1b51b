// Package profiler samples every running sheet's process tree (CPU, RSS,
// threads, open files, I/O) each profiler.interval. It keeps a running
// summary per try (peak RSS, CPU seconds, mean CPU), flags stalled tries (no
// CPU progress and no new output for stall_after) and anomalies (a memory
// spike, runaway CPU, running far longer than history says), stores the
// samples, and tells the job manager. It never signals a process: stopping a
// stalled try is the job actor's decision.
package profiler

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/proctable"
	"github.com/mzt-dev/mzt/messages"
)

// Deps wire the profiler to its siblings.
type Deps struct {
	Config      *config.Config
	Jobs, Store *actor.PID
	Stats       *correlation.Table // for "running longer than history says"; may be nil
	Log         *slog.Logger
}

// Reconfigure applies a reloaded config (interval, stall settings, retention).
type Reconfigure struct{ Config *config.Config }

type (
	tick  struct{}
	round struct {
		at       time.Time
		sheets   []jobs.RunningSheet
		readings []Reading
		err      error
	}
)

// compactEvery is how often old samples are downsampled and dropped.
const compactEvery = 10 * time.Minute

// Actor is the profiler.
type Actor struct {
	deps  Deps
	cfg   *config.Config
	log   *slog.Logger
	tries map[tryKey]*TryState

	timer       *mailbox.Timer
	busy        bool
	lastCompact time.Time
}

type tryKey struct {
	job      string
	num, try int
}

// Props builds the profiler.
func Props(deps Deps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{deps: deps, cfg: deps.Config, log: deps.Log, tries: map[tryKey]*TryState{}}
	})
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if !a.cfg.Profiler.Enabled {
			a.log.Info("profiler disabled (profiler.enabled = false)")
			return
		}
		a.arm(ctx)
	case *Reconfigure:
		enabled := a.cfg.Profiler.Enabled // needs a restart
		a.cfg = m.Config
		a.cfg.Profiler.Enabled = enabled
	case *tick:
		if a.busy {
			return
		}
		a.busy = true
		f := ctx.RequestFuture(a.deps.Jobs, &jobs.RunningSheetsRequest{}, 5*time.Second)
		ctx.ReenterAfter(f, func(res any, err error) {
			running, ok := res.(*jobs.RunningSheets)
			if err != nil || !ok {
				a.log.Warn("profiler could not list running sheets", "err", err)
				a.busy = false
				a.arm(ctx)
				return
			}
			a.sample(ctx, running.Sheets)
		})
	case *round:
		a.busy = false
		a.onRound(ctx, m)
		a.arm(ctx)
	case *actor.Stopping, *actor.Restarting:
		a.timer.Stop()
	}
}

func (a *Actor) arm(ctx actor.Context) {
	a.timer.Stop()
	a.timer = mailbox.After(ctx.ActorSystem().Root, ctx.Self(), time.Duration(a.cfg.Profiler.Interval), &tick{})
}

// sample reads /proc off the mailbox.
func (a *Actor) sample(ctx actor.Context, sheets []jobs.RunningSheet) {
	at := time.Now()
	mailbox.Go(ctx.ActorSystem().Root, ctx.Self(), func() any {
		r := &round{at: at, sheets: sheets}
		if len(sheets) == 0 {
			return r
		}
		table, err := proctable.Snapshot()
		if err != nil {
			r.err = err
			return r
		}
		r.readings = make([]Reading, len(sheets))
		for i, s := range sheets {
			r.readings[i] = Measure(table, s.PID, s.PGID, s.Stdout, s.Stderr)
		}
		return r
	}, func(err error) any { return &round{at: at, sheets: sheets, err: fmt.Errorf("sampling: %w", err)} })
}

func (a *Actor) onRound(ctx actor.Context, r *round) {
	if r.err != nil {
		a.log.Warn("profiler round failed", "err", r.err)
		return
	}
	seen := map[tryKey]bool{}
	update := &jobs.ProfileUpdate{}
	samples := make([]store.Sample, 0, len(r.sheets))
	stats := a.deps.Stats.Load()
	for i, s := range r.sheets {
		if s.PID == 0 {
			continue
		}
		k := tryKey{s.JobID, s.Num, s.Try}
		seen[k] = true
		st := a.tries[k]
		if st == nil {
			st = &TryState{}
			a.tries[k] = st
		}
		policy := Policy{StallAfter: s.StallAfter, Interval: time.Duration(a.cfg.Profiler.Interval), CPUOnly: s.CPUOnly}
		if hist, ok := stats.Lookup(correlation.Key{Score: cmp.Or(s.ScoreKey, s.JobID), Stage: s.Stage, Instrument: s.Instrument}); ok && hist.Completed >= 3 {
			policy.ExpectedP90 = hist.P90
		}
		p := st.Observe(r.readings[i], s.StartedAt, r.at, policy)
		p.JobID, p.Num, p.Try = s.JobID, s.Num, s.Try
		update.Profiles = append(update.Profiles, p)
		samples = append(samples, store.Sample{RunKey: s.RunKey, Num: s.Num, Try: s.Try, Time: r.at,
			CPUPercent: p.CPUPercent, RSSMB: p.RSSMB, Threads: p.Threads, Processes: p.Processes,
			OpenFiles: p.OpenFiles, ReadBytes: p.ReadBytes, WriteBytes: p.WriteBytes})
		a.publish(ctx, s, p)
	}
	for k := range a.tries {
		if !seen[k] {
			delete(a.tries, k)
		}
	}
	if len(update.Profiles) > 0 {
		ctx.Send(a.deps.Jobs, update)
		ctx.Send(a.deps.Store, &store.Write{Op: &store.InsertSamples{Samples: samples}})
	}
	if r.at.Sub(a.lastCompact) >= compactEvery {
		a.lastCompact = r.at
		ctx.Send(a.deps.Store, &store.Write{Op: &store.CompactSamples{DownsampleBefore: r.at.Add(-time.Hour),
			DropBefore: r.at.Add(-time.Duration(a.cfg.Profiler.Retention))}})
	}
}

// publish turns stalls and anomalies into events (and log lines).
func (a *Actor) publish(ctx actor.Context, s jobs.RunningSheet, p jobs.SheetProfile) {
	emit := func(kind messages.EventKind, status, detail string) {
		ctx.ActorSystem().EventStream.Publish(&messages.Event{Kind: string(kind), JobId: s.JobID, Sheet: int64(s.Num),
			Attempt: int64(s.Try), Stage: s.Stage, Status: status, Detail: detail})
	}
	if p.StallNote != "" {
		a.log.Warn("sheet stalled", "job", s.JobID, "sheet", s.Num, "try", s.Try, "detail", p.StallNote, "on_stall", s.OnStall)
		emit(messages.EventStall, messages.StallStalled, p.StallNote)
	}
	if p.StallResolved {
		emit(messages.EventStall, messages.StallResumed, "made progress again")
	}
	for _, n := range p.NewNotes {
		a.log.Warn("sheet anomaly", "job", s.JobID, "sheet", s.Num, "try", s.Try, "detail", n)
		emit(messages.EventAnomaly, "", n)
	}
}
