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

// openEventLog starts the event log after the events already stored and
// subscribes it to the actor event stream, where every subsystem publishes
// *messages.Event. Batches go to the store actor as ordinary writes.
func openEventLog(system *actor.ActorSystem, db *store.DB) (*eventlog.Log, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last, err := db.LastEventSeq(ctx)
	if err != nil {
		return nil, err
	}
	history, err := db.Events(ctx, "", 0, eventlog.DefaultRing)
	if err != nil {
		return nil, fmt.Errorf("read past events: %w", err)
	}
	storePID := actor.NewPID(system.Address(), "daemon/store")
	log := eventlog.New(last, history, eventlog.DefaultRing, func(batch []*messages.Event) {
		system.Root.Send(storePID, &store.Write{Op: &store.InsertEvents{Events: batch, Keep: keepEvents}})
	})
	system.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*messages.Event); ok {
			log.Publish(e)
		}
	})
	return log, nil
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
