package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// SQLite copies the WAL back into the database (a checkpoint, with its
// fsyncs) in whichever connection commits past 1,000 WAL pages: left on,
// one write in a few hundred, often a submit's or a try's start, waited
// tens of milliseconds for a disk flush it did not need (commits themselves
// are not flushed: synchronous = NORMAL). The writer connection therefore
// never checkpoints; a checkpointer does, in the background on a read
// connection, at most every checkpointEvery while writes come. PASSIVE
// never waits for the writer or readers, nor they for it.

// checkpointEvery spaces background checkpoints: the WAL grows by at most
// what is written meanwhile.
const checkpointEvery = time.Second

// checkpointer runs background checkpoints; the writer pokes it after each
// commit.
type checkpointer struct {
	db   *DB
	log  *slog.Logger
	poke chan struct{}
	done atomic.Int64 // checkpoints run, for tests
}

func newCheckpointer(db *DB, log *slog.Logger) *checkpointer {
	return &checkpointer{db: db, log: log, poke: make(chan struct{}, 1)}
}

// wrote tells the checkpointer that a transaction committed; it never blocks.
func (c *checkpointer) wrote() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

// run checkpoints after writes, at most every checkpointEvery, until stop
// closes; a panic is reported, never fatal (SQLite's own checkpoint at close
// still runs).
func (c *checkpointer) run(stop <-chan struct{}) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("state database checkpointer failed; the WAL is checkpointed at close", "panic", r)
		}
	}()
	var last time.Time
	for {
		select {
		case <-stop:
			return
		case <-c.poke:
		}
		if wait := checkpointEvery - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		if err := c.checkpoint(); err != nil {
			c.log.Warn("checkpoint state database", "err", err)
		}
	}
}

func (c *checkpointer) checkpoint() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var busy, logPages, done int
	if err := c.db.read.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("wal_checkpoint: %w", err)
	}
	c.done.Add(1)
	return nil
}
