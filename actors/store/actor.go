package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
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
}

// Props builds the store actor around an open database, which it closes when it stops.
func Props(db *DB, log *slog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &Actor{db: db, log: log} })
}

func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.queue = make(chan *Write, 4096)
		a.wg.Add(1)
		go a.writer(ctx.ActorSystem().Root)
	case *Write:
		a.queue <- m
	case *Query:
		sender, root, db := ctx.Sender(), ctx.ActorSystem().Root, a.db
		go func() {
			var res QueryResult
			func() {
				defer func() {
					if r := recover(); r != nil {
						res.Err = fmt.Errorf("query panicked: %v", r)
					}
				}()
				qctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res.Value, res.Err = m.Fn(qctx, db)
			}()
			if sender != nil {
				root.Send(sender, &res)
			}
		}()
	case *actor.Stopping:
		// Everything already queued is written before the database closes.
		close(a.queue)
		a.wg.Wait()
		if err := a.db.Close(); err != nil {
			a.log.Error("close state database", "err", err)
		}
	}
}

// writer applies queued writes, batching whatever is waiting into one
// transaction; a failed batch is retried op by op so one bad write cannot
// take its neighbours down with it.
func (a *Actor) writer(root *actor.RootContext) {
	defer a.wg.Done()
	for first := range a.queue {
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
		errs := a.applyBatch(batch)
		for i, w := range batch {
			if errs[i] != nil {
				a.log.Error("state write failed", "op", fmt.Sprintf("%T", w.Op), "err", errs[i])
			}
			if w.ReplyTo != nil {
				root.Send(w.ReplyTo, &WriteDone{Tag: w.Tag, Op: w.Op, Err: errs[i]})
			}
		}
	}
}

func (a *Actor) applyBatch(batch []*Write) []error {
	errs := make([]error, len(batch))
	if err := a.tx(func(ctx context.Context, tx *sql.Tx) error {
		for _, w := range batch {
			if err := safeApply(ctx, tx, w.Op); err != nil {
				return err
			}
		}
		return nil
	}); err == nil || len(batch) == 1 {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i, w := range batch {
		errs[i] = a.tx(func(ctx context.Context, tx *sql.Tx) error { return safeApply(ctx, tx, w.Op) })
	}
	return errs
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
	return nil
}
