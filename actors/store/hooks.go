package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// HookRow is a hook that is due: stored before it runs, marked done after,
// so that one due when the conductor stopped runs after it starts.
type HookRow struct {
	ID      int64
	JobID   string
	Event   string // job.completed, on_success, stall, ...
	Run     string // a command for bash -c, or
	URL     string // a URL the Body is POSTed to
	Dir     string // the command's working directory
	Env     map[string]string
	Body    string // the event as JSON
	Timeout time.Duration
	Created time.Time
}

// keptHooks bounds the finished hooks kept for inspection.
const keptHooks = 1000

// MaxDueHooks bounds the hooks events may leave waiting: beyond it, a
// burst of events (pressure flapping, many stalls) drops hooks instead of
// queueing work without end.
const MaxDueHooks = 1000

// QueueHooks stores hooks that events made due, unless MaxDueHooks already
// wait; Dropped says how many were not stored.
type QueueHooks struct {
	Hooks   []HookRow
	Dropped int
}

func (op *QueueHooks) apply(ctx context.Context, tx *sql.Tx) error {
	var due int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM hooks WHERE done_at = 0`).Scan(&due); err != nil {
		return fmt.Errorf("count due hooks: %w", err)
	}
	if due+len(op.Hooks) > MaxDueHooks {
		op.Dropped = len(op.Hooks)
		return nil
	}
	return insertHooks(ctx, tx, op.Hooks)
}

func insertHooks(ctx context.Context, tx *sql.Tx, hooks []HookRow) error {
	for _, h := range hooks {
		env, _ := json.Marshal(h.Env) // map[string]string always marshals
		_, err := tx.ExecContext(ctx, `INSERT INTO hooks (job_id, event, run, url, dir, env, body, timeout_ms, created_at)
			VALUES (?,?,?,?,?,?,?,?,?)`, h.JobID, h.Event, h.Run, h.URL, h.Dir, string(env), h.Body,
			h.Timeout.Milliseconds(), nanos(h.Created))
		if err != nil {
			return fmt.Errorf("queue hook %s of job %s: %w", h.Event, h.JobID, err)
		}
	}
	return nil
}

// HookDone marks a hook run (Err is why it failed, "" when it succeeded)
// and drops the oldest finished hooks beyond the ones kept.
type HookDone struct {
	ID  int64
	Err string
}

func (op *HookDone) apply(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE hooks SET done_at = ?, error = ? WHERE id = ?`,
		time.Now().UnixNano(), op.Err, op.ID); err != nil {
		return fmt.Errorf("mark hook %d done: %w", op.ID, err)
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM hooks WHERE done_at > 0 AND id NOT IN
		(SELECT id FROM hooks WHERE done_at > 0 ORDER BY id DESC LIMIT ?)`, keptHooks)
	if err != nil {
		return fmt.Errorf("prune hooks: %w", err)
	}
	return nil
}

// DueHooks are the hooks not yet run, oldest first, at most limit.
func (db *DB) DueHooks(ctx context.Context, limit int) ([]HookRow, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, job_id, event, run, url, dir, env, body, timeout_ms, created_at
		FROM hooks WHERE done_at = 0 ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read due hooks: %w", err)
	}
	defer rows.Close()
	var out []HookRow
	for rows.Next() {
		var h HookRow
		var env string
		var timeoutMS, created int64
		if err := rows.Scan(&h.ID, &h.JobID, &h.Event, &h.Run, &h.URL, &h.Dir, &env, &h.Body, &timeoutMS, &created); err != nil {
			return nil, fmt.Errorf("read due hooks: %w", err)
		}
		_ = json.Unmarshal([]byte(env), &h.Env) // a damaged column runs the hook without its variables
		h.Timeout, h.Created = time.Duration(timeoutMS)*time.Millisecond, fromNanos(created)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read due hooks: %w", err)
	}
	return out, nil
}

// HooksDue is published on the event stream when hooks were stored: the
// hooks actor looks for them.
type HooksDue struct{}
