package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// ListedJob is the latest run of a finished job as a listing shows it: its
// row (without score source, dependencies or key) and its sheets' tallies.
type ListedJob struct {
	Job               JobRow
	Completed, Failed int
	Usage             Usage
}

// FinishedQuery selects finished jobs for a listing, newest first.
type FinishedQuery struct {
	// Limit is how many jobs to return at most; 0 returns every one.
	Limit int
	// Before, when set, keeps the jobs created before BeforeNanos (ties of
	// one timestamp broken by id: those with an id below BeforeID).
	Before      bool
	BeforeNanos int64
	BeforeID    string
	// Exclude names jobs left out (those the conductor is running: it
	// lists them from memory).
	Exclude []string
}

// finishedPage is FinishedPage read from the database.
func (db *DB) finishedPage(ctx context.Context, q FinishedQuery) (jobs []ListedJob, total int, err error) {
	exclude, err := json.Marshal(q.Exclude)
	if err != nil {
		return nil, 0, fmt.Errorf("list finished jobs: %w", err)
	}
	if q.Exclude == nil {
		exclude = []byte("[]")
	}
	// "+j.status": not by the status index, which would leave every
	// finished job to sort; jobs_by_created walks them newest first.
	where := `WHERE +j.status IN ('completed','failed','cancelled')
		AND j.run = (SELECT max(run) FROM jobs WHERE job_id = j.job_id)
		AND j.job_id NOT IN (SELECT value FROM json_each(?1))
		AND (NOT ?2 OR j.created_at < ?3 OR (j.created_at = ?3 AND j.job_id < ?4))`
	limit := -1 // SQLite: no limit
	if q.Limit > 0 {
		limit = q.Limit
	}
	args := []any{string(exclude), q.Before, q.BeforeNanos, q.BeforeID, limit}
	rows, err := db.read.QueryContext(ctx, `SELECT j.job_id, j.run, j.name, j.status, j.user_paused, j.score_path,
		j.workspace, j.created_at, j.started_at, j.finished_at, j.sheets_total, j.error, j.priority, j.group_name,
		j.budget_usd, j.pause_reason, t.completed, t.failed, t.cost_usd, t.cost_reports,
		t.input_tokens, t.output_tokens, t.token_reports
		FROM jobs j JOIN run_tallies t ON t.run_key = j.run_key `+where+` ORDER BY j.created_at DESC, j.job_id DESC LIMIT ?5`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list finished jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l ListedJob
		j := &l.Job
		var paused, costReports, tokenReports int
		var created, started, finished int64
		if err := rows.Scan(&j.JobID, &j.Run, &j.Name, &j.Status, &paused, &j.ScorePath, &j.Workspace,
			&created, &started, &finished, &j.SheetsTotal, &j.Error, &j.Priority, &j.Group, &j.BudgetUSD, &j.PauseReason,
			&l.Completed, &l.Failed, &l.Usage.CostUSD, &costReports, &l.Usage.InputTokens, &l.Usage.OutputTokens,
			&tokenReports); err != nil {
			return nil, 0, fmt.Errorf("list finished jobs: %w", err)
		}
		j.UserPaused = paused != 0
		j.CreatedAt, j.StartedAt, j.FinishedAt = fromNanos(created), fromNanos(started), fromNanos(finished)
		l.Usage.CostKnown, l.Usage.TokensKnown = costReports > 0, tokenReports > 0
		if !l.Usage.CostKnown {
			l.Usage.CostUSD = 0
		}
		if !l.Usage.TokensKnown {
			l.Usage.InputTokens, l.Usage.OutputTokens = 0, 0
		}
		jobs = append(jobs, l)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list finished jobs: %w", err)
	}
	if limit < 0 || len(jobs) < limit {
		return jobs, len(jobs), nil
	}
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM jobs j `+where, args[:4]...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count finished jobs: %w", err)
	}
	return jobs, total, nil
}
