package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/gateway"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/eventlog"
	"github.com/mzt-dev/mzt/messages"
)

// keepEvents bounds the events table (the newest stay).
const keepEvents = 100_000

// persistWait bounds how long events wait for the store before followers
// get them regardless.
const persistWait = 5 * time.Second

// pastEvents is what the event log starts from: the last stored sequence
// number and the newest stored events.
type pastEvents struct {
	last    int64
	history []*messages.Event
}

// readPastEvents reads them before the tree starts (a blocking read has no
// place in an actor's Receive).
func readPastEvents(db *store.DB) (pastEvents, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last, err := db.LastEventSeq(ctx)
	if err != nil {
		return pastEvents{}, err
	}
	history, err := db.Events(ctx, "", 0, eventlog.DefaultRing)
	if err != nil {
		return pastEvents{}, fmt.Errorf("read past events: %w", err)
	}
	return pastEvents{last: last, history: history}, nil
}

// newEventLog starts the event log after the events already stored and
// subscribes it to the actor event stream, where every subsystem publishes
// *messages.Event. Batches go to the store actor as ordinary writes, and the
// log waits (off any actor) for each to be committed before followers see
// it, so a follower never holds an event a crash then loses.
func newEventLog(system *actor.ActorSystem, past pastEvents, storePID *actor.PID) *eventlog.Log {
	log := eventlog.New(past.last, past.history, eventlog.DefaultRing, func(batch []*messages.Event) {
		done := actor.NewFuture(system, persistWait)
		system.Root.Send(storePID, &store.Write{Op: &store.InsertEvents{Events: batch, Keep: keepEvents}, ReplyTo: done.PID()})
		_ = done.Wait() // a store that does not answer in time: serve the events anyway
	})
	system.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*messages.Event); ok {
			log.Publish(e)
		}
	})
	return log
}

// newMetrics counts events for the Prometheus endpoint, when one is configured.
func newMetrics(system *actor.ActorSystem, cfg *config.Config) *gateway.Metrics {
	if cfg.Metrics.Listen == "" {
		return nil
	}
	m := gateway.NewMetrics()
	system.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*messages.Event); ok {
			m.Observe(e)
		}
	})
	return m
}
