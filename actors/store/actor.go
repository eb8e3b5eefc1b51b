package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Op is one write; ops are applied in the order they were sent.
type Op interface {
	apply(ctx context.Context, tx *sql.Tx) error
}

// Write asks the store to apply Op. When ReplyTo is set it gets a WriteDone
// carrying Tag once the write is durable (or failed).
type Write struct {
	Op      Op
	ReplyTo *actor.PID
	Tag     any
}

// WriteDone reports the outcome of a Write.
type WriteDone struct {
	Tag any
	Op  Op
	Err error
}

// Query runs Fn on the read pool off the store's mailbox; the sender gets a
// QueryResult.
type Query struct {
	Fn func(ctx context.Context, db *DB) (any, error)
}

// QueryResult answers Query.
type QueryResult struct {
	Value any
	Err   error
}

// maxBatch bounds how many queued writes share one transaction (group commit).
const maxBatch = 256

// Actor is the store. Its writer goroutine is the database's only writer.
type Actor struct {
	db  *DB
	log *slog.Logger

	queue chan *Write
	wg    sync.WaitGroup
	ckpt  *checkpointer
	stop  chan struct{} // closed when the actor stops: the checkpointer ends
}

// Props builds the store actor around an open database, which it closes when it stops.
func Props(db *DB, log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{db: db, log: log} })
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.queue = make(chan *Write, 4096)
		a.ckpt, a.stop = newCheckpointer(a.db, a.log), make(chan struct{})
		a.wg.Add(2)
		go a.writer(ctx.ActorSystem().Root)
		go func() {
			defer a.wg.Done()
			a.ckpt.run(a.stop)
		}()
	case *Write:
		a.queue <- m
	case *Query:
		db := a.db
		mailbox.Go(ctx.ActorSystem().Root, ctx.Sender(), func() any {
			var res QueryResult
			qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res.Value, res.Err = m.Fn(qctx, db)
			return &res
		}, func(err error) any { return &QueryResult{Err: fmt.Errorf("query: %w", err)} })
	case *actor.Stopping:
		// Everything already queued is written before the database closes.
		close(a.queue)
		close(a.stop)
		a.wg.Wait()
		if err := a.db.Close(); err != nil {
			a.log.Error("close state database", "err", err)
		}
	}
}

// retryEvery is how often a write that failed (a full disk, a locked file)
// is tried again.
const retryEvery = time.Second

// retryable ops are full-row upserts: applying them late, in order, gives
// the same state as applying them on time. A new run (InsertRun) is not: its
// submitter is told at once and nothing is kept.
func retryable(op Op) bool {
	_, insert := op.(*InsertRun)
	return !insert && !bestEffort(op)
}

// bestEffort ops (events, profiler samples) are telemetry: when they cannot
// be written they are dropped, never held in the backlog, so that a full disk
// neither grows the conductor's memory with samples nor makes job writes
// wait behind them. Recent events stay served from memory.
func bestEffort(op Op) bool {
	_, ok := op.(interface{ telemetry() })
	return ok
}

// transient errors are the machine's (a full disk, an I/O error, a lock),
// not the write's: the same write will succeed later.
func transient(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return true
		}
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO)
}

// writer applies queued writes, batching whatever is waiting into one
// transaction; a failed batch is retried op by op so one bad write cannot
// take its neighbours down with it. A retryable write that fails, and every
// write after it, wait in a backlog (order kept) that is retried until it
// goes through: a full disk delays state, it never loses it. Replies for
// them go out only once they are durable.
func (a *Actor) writer(root *actor.RootContext) {
	defer a.wg.Done()
	var backlog []*Write
	var backlogErr error // why the backlog started: what a refused write is told
	var dropped int      // telemetry writes dropped since the last report
	var droppedAt time.Time
	drop := func(w *Write, err error) {
		dropped++
		if time.Since(droppedAt) >= 10*time.Second {
			a.log.Warn("telemetry not written (events, samples); dropped", "count", dropped, "op", fmt.Sprintf("%T", w.Op), "err", err)
			dropped, droppedAt = 0, time.Now()
		}
	}
	retry := time.NewTicker(retryEvery)
	defer retry.Stop()
	reply := func(w *Write, err error) {
		if w.ReplyTo != nil {
			root.Send(w.ReplyTo, &WriteDone{Tag: w.Tag, Op: w.Op, Err: err})
		}
	}
	flush := func() {
		if len(backlog) == 0 {
			return
		}
		n := min(len(backlog), maxBatch)
		if err := a.apply(backlog[:n]); err != nil {
			return
		}
		for _, w := range backlog[:n] {
			reply(w, nil)
		}
		backlog = backlog[n:]
		if len(backlog) == 0 {
			a.log.Info("state writes resumed; the backlog is written")
		}
	}
	for {
		var first *Write
		var ok bool
		select {
		case first, ok = <-a.queue:
		case <-retry.C:
			flush()
			continue
		}
		if !ok {
			flush() // a last chance before the database closes
			for _, w := range backlog {
				a.log.Error("state write lost at shutdown", "op", fmt.Sprintf("%T", w.Op))
				reply(w, errors.New("the state database could not be written before shutdown"))
			}
			return
		}
		batch := []*Write{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case w, ok := <-a.queue:
				if !ok {
					break drain
				}
				batch = append(batch, w)
			default:
				break drain
			}
		}
		flush()
		if len(backlog) > 0 {
			// Nothing may overtake a write that is still waiting.
			for _, w := range batch {
				if bestEffort(w.Op) {
					drop(w, backlogErr)
					reply(w, backlogErr)
				} else if retryable(w.Op) {
					backlog = append(backlog, w)
				} else {
					reply(w, fmt.Errorf("%w (%d earlier writes are waiting)", backlogErr, len(backlog)))
				}
			}
			flush()
			continue
		}
		errs := a.applyBatch(batch)
		for i, w := range batch {
			switch {
			case errs[i] == nil && len(backlog) == 0:
				reply(w, nil)
			case bestEffort(w.Op): // written or dropped; never held
				if errs[i] != nil {
					drop(w, errs[i])
				}
				reply(w, errs[i])
			case len(backlog) > 0 && retryable(w.Op):
				backlog = append(backlog, w) // keep the order behind a waiting write
			case retryable(w.Op) && transient(errs[i]):
				if len(backlog) == 0 {
					backlogErr = errs[i]
					a.log.Error("state write failed; holding writes until it succeeds", "op", fmt.Sprintf("%T", w.Op), "err", errs[i])
				}
				backlog = append(backlog, w)
			default:
				a.log.Error("state write failed", "op", fmt.Sprintf("%T", w.Op), "err", errs[i])
				reply(w, errs[i])
			}
		}
	}
}

func (a *Actor) applyBatch(batch []*Write) []error {
	errs := make([]error, len(batch))
	if err := a.apply(batch); err == nil || len(batch) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i := range batch {
		errs[i] = a.apply(batch[i : i+1])
	}
	return errs
}

// apply writes ws in one transaction. Unless they are all telemetry, the
// cached history reads are dropped once it ends, committed or not, and
// before anyone is told: a reader told of a write never gets an answer
// read before it.
func (a *Actor) apply(ws []*Write) error {
	if slices.ContainsFunc(ws, func(w *Write) bool { return !bestEffort(w.Op) }) {
		defer a.db.cache.invalidate()
	}
	return a.tx(func(ctx context.Context, tx *sql.Tx) error {
		for _, w := range ws {
			if err := safeApply(ctx, tx, w.Op); err != nil {
				return err
			}
		}
		return nil
	})
}

func safeApply(ctx context.Context, tx *sql.Tx, op Op) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%T panicked: %v", op, r)
		}
	}()
	return op.apply(ctx, tx)
}

func (a *Actor) tx(fn func(context.Context, *sql.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = withStmts(ctx, a.db.stmts)
	tx, err := a.db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	a.ckpt.wrote()
	return nil
}
