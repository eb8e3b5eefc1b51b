// Package correlation turns finished tries and their resource summaries into
// statistics per (score, stage, instrument): runs, success rate, duration
// percentiles, peak memory, the most common failures. The job actors read the
// latest statistics for ETAs and the profiler for "running too long"; users
// read them with `mzt insights`. It only reads state.db, never writes it.
package correlation

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/messages"
)

// historyLimit bounds how many tries a computation reads (the newest).
const historyLimit = 50000

// refreshEvery recomputes even when nobody said history changed.
const refreshEvery = time.Minute

// Changed tells the analyzer that tries finished; it recomputes soon.
type Changed struct{}

type (
	computed struct {
		stats *Stats
		err   error
		took  time.Duration // how long the computation took
	}
	refreshTick struct{}
)

// Actor is the correlation analyzer.
type Actor struct {
	db    *store.DB
	table *Table
	log   *slog.Logger

	pace  pacer
	timer *mailbox.Timer
}

// Props builds the analyzer; it publishes into table.
func Props(db *store.DB, table *Table, log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{db: db, table: table, log: log} })
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if start, _ := a.pace.changed(time.Now()); start {
			a.refresh(ctx)
		}
	case *Changed:
		start, wait := a.pace.changed(time.Now())
		switch {
		case start:
			a.refresh(ctx)
		case wait > 0:
			a.arm(ctx, wait)
		}
	case *refreshTick:
		if a.pace.tick() {
			a.refresh(ctx)
		}
	case *computed:
		if m.err != nil {
			a.log.Warn("cannot compute statistics", "err", m.err)
		} else {
			a.table.store(m.stats)
		}
		a.arm(ctx, a.pace.done(time.Now(), m.took))
	case *messages.InsightsRequest:
		a.insights(ctx, m)
	case *actor.Stopping, *actor.Restarting:
		a.timer.Stop()
	}
}

func (a *Actor) arm(ctx actor.Context, d time.Duration) {
	a.timer.Stop()
	a.timer = mailbox.After(ctx.ActorSystem().Root, ctx.Self(), d, &refreshTick{})
}

// refresh recomputes off the mailbox (the pacer allows one at a time).
func (a *Actor) refresh(ctx actor.Context) {
	if a.db == nil {
		return
	}
	self, root, db := ctx.Self(), ctx.ActorSystem().Root, a.db
	mailbox.Go(root, self, func() any {
		t0 := time.Now()
		qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tries, err := db.FinishedTries(qctx, "", historyLimit)
		return &computed{stats: Compute(tries, time.Now()), err: err, took: time.Since(t0)}
	}, func(err error) any { return &computed{err: err} })
}

// insights answers from a fresh read of the score's history, so that what a
// user sees right after a run includes it.
func (a *Actor) insights(ctx actor.Context, m *messages.InsightsRequest) {
	sender, root, db := ctx.Sender(), ctx.ActorSystem().Root, a.db
	if db == nil || sender == nil {
		ctx.Respond(&messages.Insights{})
		return
	}
	score := m.GetScore()
	mailbox.Go(root, sender, func() (reply any) {
		qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tries, err := db.FinishedTries(qctx, score, historyLimit)
		if err != nil {
			reply = messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read history: %v", err)
			return
		}
		if score != "" && len(tries) == 0 {
			reply = messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt list --all",
				"no finished sheets of score %s in history", score)
			return
		}
		stats := Compute(tries, time.Now())
		out := &messages.Insights{}
		for _, st := range stats.ByKey {
			out.Stages = append(out.Stages, st.ToMessage())
		}
		out.Scores = stats.Scores
		sort.Slice(out.Stages, func(i, j int) bool {
			x, y := out.Stages[i], out.Stages[j]
			if x.Score != y.Score {
				return x.Score < y.Score
			}
			if x.Stage != y.Stage {
				return x.Stage < y.Stage
			}
			return x.Instrument < y.Instrument
		})
		return out
	}, func(err error) any {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "insights: %v", err)
	})
}
