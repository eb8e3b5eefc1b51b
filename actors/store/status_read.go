package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// StatusRun returns the newest run of jobID as `mzt status` shows it: the
// job without its score source, the sheets without what status never shows
// (their output tail, process group, try count and rate-limit wait), which
// for a run of 10,000 sheets is most of the reading. ok is false when there
// is no run.
func (db *DB) StatusRun(ctx context.Context, jobID string) (run Run, ok bool, err error) {
	row := db.read.QueryRowContext(ctx, selectJobsNoSource+` WHERE j.job_id = ? ORDER BY j.run DESC LIMIT 1`, jobID)
	j, err := scanJob(row)
	if err == sql.ErrNoRows {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("read job %s: %w", jobID, err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT num, stage, voice, voice_count, instrument, model, status, attempts,
		started_at, finished_at, exit_code, error, waiting_until, pid, validations, input_tokens, output_tokens, cost_usd,
		peak_rss_mb, cpu_seconds, mean_cpu_percent, stalled, notes, session_id, cost_known, tokens_known
		FROM sheets WHERE run_key = ? ORDER BY num`, j.RunKey)
	if err != nil {
		return Run{}, false, fmt.Errorf("read sheets of %s: %w", jobID, err)
	}
	defer rows.Close()
	sheets := make([]SheetRow, 0, j.SheetsTotal)
	for rows.Next() {
		s := SheetRow{RunKey: j.RunKey}
		var started, finished, waiting int64
		var exit sql.NullInt64
		var vals, notes string
		var stalled, costKnown, tokensKnown int
		if err := rows.Scan(&s.Num, &s.Stage, &s.Voice, &s.VoiceCount, &s.Instrument, &s.Model, &s.Status, &s.Attempts,
			&started, &finished, &exit, &s.Error, &waiting, &s.PID, &vals, &s.InputTokens, &s.OutputTokens, &s.CostUSD,
			&s.Profile.PeakRSSMB, &s.Profile.CPUSeconds, &s.Profile.MeanCPUPercent, &stalled, &notes, &s.SessionID,
			&costKnown, &tokensKnown); err != nil {
			return Run{}, false, fmt.Errorf("read sheet of %s: %w", jobID, err)
		}
		s.StartedAt, s.FinishedAt, s.WaitingUntil = fromNanos(started), fromNanos(finished), fromNanos(waiting)
		if exit.Valid {
			code := int(exit.Int64)
			s.ExitCode = &code
		}
		if vals != "[]" {
			s.Validations = parseValidations(vals)
		}
		s.Profile.Stalled = stalled != 0
		s.CostKnown, s.TokensKnown = costKnown != 0, tokensKnown != 0
		if notes != "[]" {
			json.Unmarshal([]byte(notes), &s.Notes) // a damaged note list is not worth failing a status
		}
		sheets = append(sheets, s)
	}
	if err := rows.Err(); err != nil {
		return Run{}, false, fmt.Errorf("read sheets of %s: %w", jobID, err)
	}
	return Run{Job: j, Sheets: sheets}, true, nil
}
