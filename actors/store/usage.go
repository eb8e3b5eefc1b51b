package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Usage is what instruments reported about some tries, summed. A cost no try
// reported is unknown, not zero: CostKnown says whether any did, and views
// show "?" (or null) otherwise.
type Usage struct {
	CostUSD                   float64
	CostKnown                 bool
	InputTokens, OutputTokens int64
	TokensKnown               bool
}

// Add counts what one sheet (the sum of its tries) reported.
func (u *Usage) Add(s *SheetRow) {
	if s.CostKnown {
		u.CostUSD += s.CostUSD
		u.CostKnown = true
	}
	if s.TokensKnown {
		u.InputTokens += s.InputTokens
		u.OutputTokens += s.OutputTokens
		u.TokensKnown = true
	}
}

// SheetsUsage sums the usage of some sheets.
func SheetsUsage(rows []SheetRow) Usage {
	var u Usage
	for i := range rows {
		u.Add(&rows[i])
	}
	return u
}

// Usage bits of AttemptRow.UsageKnown.
const (
	UsageCost   = 1
	UsageTokens = 2
)

// SpentSince sums the cost the tries that finished at or after since
// reported: the conductor's spend today, for [budget] daily_usd.
func (db *DB) SpentSince(ctx context.Context, since time.Time) (float64, error) {
	var usd float64
	err := db.read.QueryRowContext(ctx, `SELECT COALESCE(sum(cost_usd), 0) FROM attempts
		WHERE finished_at >= ? AND usage_known & 1 = 1`, nanos(since)).Scan(&usd)
	if err != nil {
		return 0, fmt.Errorf("sum today's spend: %w", err)
	}
	return usd, nil
}

// NthRun returns run n (1 = the first) of jobID; ok is false when there is none.
func (db *DB) NthRun(ctx context.Context, jobID string, n int) (run Run, ok bool, err error) {
	row := db.read.QueryRowContext(ctx, selectJobsNoSource+` WHERE j.job_id = ? AND j.run = ?`, jobID, n)
	j, err := scanJob(row)
	if err == sql.ErrNoRows {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("read run %d of job %s: %w", n, jobID, err)
	}
	sheets, err := db.sheetsOf(ctx, j.RunKey)
	if err != nil {
		return Run{}, false, err
	}
	return Run{Job: j, Sheets: sheets}, true, nil
}
