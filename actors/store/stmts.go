package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SQLite compiles a statement each time it is given as text: for the
// 32-column sheet upsert that costs more than running it. The statements
// every job's writes run are compiled once, when the database opens, and
// reused in each transaction (tx.StmtContext finds them compiled on the one
// writer connection).

// The hot write statements.
const (
	sqlUpsertJob = `INSERT INTO jobs
		(run_key, job_id, run, name, status, user_paused, score_path, score_hash, workspace,
		 created_at, started_at, finished_at, sheets_total, error, priority, group_name, after_jobs, after_any,
		 budget_usd, pause_reason, score_key)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (run_key) DO UPDATE SET
		 name=excluded.name, status=excluded.status, user_paused=excluded.user_paused,
		 started_at=excluded.started_at, finished_at=excluded.finished_at,
		 sheets_total=excluded.sheets_total, error=excluded.error,
		 budget_usd=excluded.budget_usd, pause_reason=excluded.pause_reason, score_key=excluded.score_key`
	sqlUpsertSheet = `INSERT OR REPLACE INTO sheets
		(run_key, num, stage, voice, voice_count, instrument, model, status, attempts, tries,
		 started_at, finished_at, exit_code, error, waiting_until, rate_limit_waited,
		 pid, pgid, proc_start, validations, output_tail, input_tokens, output_tokens, cost_usd,
		 peak_rss_mb, cpu_seconds, mean_cpu_percent, stalled, notes, session_id, cost_known, tokens_known)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	sqlInsertAttempt = `INSERT OR REPLACE INTO attempts
		(run_key, num, try, counted, outcome, started_at, finished_at, exit_code, error, validations,
		 peak_rss_mb, cpu_seconds, mean_cpu_percent, stalled, cost_usd, input_tokens, output_tokens, usage_known)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	sqlLastRun     = `SELECT max(run) FROM jobs WHERE job_id = ?`
	sqlPutScore    = `INSERT OR IGNORE INTO scores (hash, source) VALUES (?, ?)`
	sqlInsertEvent = `INSERT OR IGNORE INTO events
		(seq, time, kind, job_id, sheet, attempt, stage, status, detail) VALUES (?,?,?,?,?,?,?,?,?)`
	sqlPruneEvents = `DELETE FROM events WHERE seq <= ?`
)

var hotStatements = []string{sqlUpsertJob, sqlUpsertSheet, sqlInsertAttempt, sqlLastRun, sqlPutScore,
	sqlInsertEvent, sqlPruneEvents}

// stmts are statements compiled on the writer connection, by their text.
type stmts map[string]*sql.Stmt

// prepareWrites compiles the hot statements on w (before any transaction:
// w has one connection).
func prepareWrites(ctx context.Context, w *sql.DB) (stmts, error) {
	s := make(stmts, len(hotStatements))
	for _, q := range hotStatements {
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %.40q: %w", q, err)
		}
		s[q] = st
	}
	return s, nil
}

func (s stmts) close() error {
	var errs []error
	for _, st := range s {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

type stmtsKey struct{}

// withStmts makes s available to the ops applied under ctx.
func withStmts(ctx context.Context, s stmts) context.Context {
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, stmtsKey{}, s)
}

// txStmt is the statement for query in tx: the compiled one when the
// writer has it, else compiled now for this transaction. The caller need
// not close it: it goes with the transaction.
func txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if s, _ := ctx.Value(stmtsKey{}).(stmts); s[query] != nil {
		return tx.StmtContext(ctx, s[query]), nil
	}
	return tx.PrepareContext(ctx, query)
}

// execHot runs a hot statement in tx.
func execHot(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	st, err := txStmt(ctx, tx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}
