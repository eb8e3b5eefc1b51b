package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// FinishedRun is a finished run as clean sees it.
type FinishedRun struct {
	RunKey, JobID, Workspace, ScorePath string
	Run                                 int
	FinishedAt                          time.Time
}

// FinishedRuns lists every finished run (not only the latest of each id),
// newest first, and the workspaces of the runs that are not finished.
func (db *DB) FinishedRuns(ctx context.Context) (runs []FinishedRun, activeWorkspaces map[string]bool, err error) {
	rows, err := db.read.QueryContext(ctx, `SELECT run_key, job_id, run, workspace, score_path, finished_at,
		status IN ('completed','failed','cancelled') FROM jobs ORDER BY finished_at DESC, run_key`)
	if err != nil {
		return nil, nil, fmt.Errorf("list finished runs: %w", err)
	}
	defer rows.Close()
	activeWorkspaces = map[string]bool{}
	for rows.Next() {
		var r FinishedRun
		var finished int64
		var done bool
		if err := rows.Scan(&r.RunKey, &r.JobID, &r.Run, &r.Workspace, &r.ScorePath, &finished, &done); err != nil {
			return nil, nil, fmt.Errorf("list finished runs: %w", err)
		}
		if !done {
			activeWorkspaces[r.Workspace] = true
			continue
		}
		r.FinishedAt = fromNanos(finished)
		runs = append(runs, r)
	}
	return runs, activeWorkspaces, rows.Err()
}

// DeleteRuns removes finished runs with their sheets, tries and samples.
// A run that is not finished (it may have been resumed meanwhile) stays.
type DeleteRuns struct{ RunKeys []string }

func (op *DeleteRuns) apply(ctx context.Context, tx *sql.Tx) error {
	for _, key := range op.RunKeys {
		if _, err := tx.ExecContext(ctx, `DELETE FROM samples WHERE run_key = ?`, key); err != nil {
			return fmt.Errorf("delete samples of %s: %w", key, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE run_key = ? AND status IN ('completed','failed','cancelled')`, key); err != nil {
			return fmt.Errorf("delete run %s: %w", key, err)
		}
	}
	return dropUnusedScores(ctx, tx)
}
