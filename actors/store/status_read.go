package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// statusRun is StatusRun read from the database.
func (db *DB) statusRun(ctx context.Context, jobID string) (run Run, ok bool, err error) {
	row := db.read.QueryRowContext(ctx, selectJobsNoSource+` WHERE j.job_id = ? ORDER BY j.run DESC LIMIT 1`, jobID)
	j, err := scanJob(row)
	if err == sql.ErrNoRows {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("read job %s: %w", jobID, err)
	}
	sheets, err := db.statusSheets(ctx, j, "")
	if err != nil {
		return Run{}, false, err
	}
	return Run{Job: j, Sheets: sheets}, true, nil
}

// statusSheets reads the sheets of j's run that where (SQL over the sheets
// table, "" for all) selects, with the columns status shows.
func (db *DB) statusSheets(ctx context.Context, j JobRow, where string) ([]SheetRow, error) {
	if where != "" {
		where = " AND " + where
	}
	rows, err := db.read.QueryContext(ctx, `SELECT num, stage, voice, voice_count, instrument, model, status, attempts,
		started_at, finished_at, exit_code, error, waiting_until, pid, validations, input_tokens, output_tokens, cost_usd,
		peak_rss_mb, cpu_seconds, mean_cpu_percent, stalled, notes, session_id, cost_known, tokens_known
		FROM sheets WHERE run_key = ?`+where+` ORDER BY num`, j.RunKey)
	if err != nil {
		return nil, fmt.Errorf("read sheets of %s: %w", j.JobID, err)
	}
	defer rows.Close()
	var sheets []SheetRow
	if where == "" {
		sheets = make([]SheetRow, 0, j.SheetsTotal)
	}
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
			return nil, fmt.Errorf("read sheet of %s: %w", j.JobID, err)
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
		return nil, fmt.Errorf("read sheets of %s: %w", j.JobID, err)
	}
	return sheets, nil
}

// quietSheet is the SQL form of messages.SheetInfo.Quiet: a sheet a brief
// status leaves out (done as planned or not begun, nothing noted).
const quietSheet = `(status IN ('completed','pending','skipped') AND stalled = 0 AND notes = '[]')`

// BriefRun is the newest run of a job read for a brief status.
type BriefRun struct {
	// Run is the job and the sheets that need a look (every sheet of a
	// run of at most the brief's limit).
	Run Run
	// Quiet counts the sheets left out, by status; nil when none was.
	Quiet map[string]int64
	// Completed, Failed and Usage are the run's tallies over every sheet.
	Completed, Failed int
	Usage             Usage
}

// StatusRunBrief is StatusRun for a brief status: a run of more than
// whole sheets reads only the sheets that need a look, and counts the
// others in SQL; its tallies count every sheet. A finished run of 10,000
// completed sheets reads none of them.
func (db *DB) StatusRunBrief(ctx context.Context, jobID string, whole int) (br BriefRun, ok bool, err error) {
	row := db.read.QueryRowContext(ctx, selectJobsNoSource+` WHERE j.job_id = ? ORDER BY j.run DESC LIMIT 1`, jobID)
	j, err := scanJob(row)
	if err == sql.ErrNoRows {
		return BriefRun{}, false, nil
	}
	if err != nil {
		return BriefRun{}, false, fmt.Errorf("read job %s: %w", jobID, err)
	}
	var n, costReports, tokenReports int
	if err := db.read.QueryRowContext(ctx, `SELECT completed, failed, cost_usd, cost_reports,
		input_tokens, output_tokens, token_reports, (SELECT count(*) FROM sheets WHERE run_key = ?1)
		FROM run_tallies WHERE run_key = ?1`, j.RunKey).Scan(&br.Completed, &br.Failed, &br.Usage.CostUSD, &costReports,
		&br.Usage.InputTokens, &br.Usage.OutputTokens, &tokenReports, &n); err != nil {
		return BriefRun{}, false, fmt.Errorf("read the tallies of %s: %w", jobID, err)
	}
	br.Usage.CostKnown, br.Usage.TokensKnown = costReports > 0, tokenReports > 0
	if !br.Usage.CostKnown {
		br.Usage.CostUSD = 0
	}
	if !br.Usage.TokensKnown {
		br.Usage.InputTokens, br.Usage.OutputTokens = 0, 0
	}
	where := ""
	if n > whole {
		where = "NOT " + quietSheet
		rows, err := db.read.QueryContext(ctx, `SELECT status, count(*) FROM sheets WHERE run_key = ? AND `+quietSheet+`
			GROUP BY status`, j.RunKey)
		if err != nil {
			return BriefRun{}, false, fmt.Errorf("count the sheets of %s: %w", jobID, err)
		}
		defer rows.Close()
		br.Quiet = map[string]int64{}
		for rows.Next() {
			var status string
			var count int64
			if err := rows.Scan(&status, &count); err != nil {
				return BriefRun{}, false, fmt.Errorf("count the sheets of %s: %w", jobID, err)
			}
			br.Quiet[status] = count
		}
		if err := rows.Err(); err != nil {
			return BriefRun{}, false, fmt.Errorf("count the sheets of %s: %w", jobID, err)
		}
	}
	sheets, err := db.statusSheets(ctx, j, where)
	if err != nil {
		return BriefRun{}, false, err
	}
	br.Run = Run{Job: j, Sheets: sheets}
	return br, true, nil
}
