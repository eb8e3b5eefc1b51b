package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// JobRow is one run of a job.
type JobRow struct {
	RunKey      string // unique per run; chosen by the jobs actor
	JobID       string
	Run         int // 1 for the first run of JobID; set by InsertRun
	Name        string
	Status      messages.JobState
	UserPaused  bool
	ScorePath   string
	ScoreSource []byte
	Workspace   string
	CreatedAt   time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	SheetsTotal int
	Error       string
	// Queue controls, set at submit.
	Priority int
	Group    string
	After    []string // job ids this run waits for
	AfterAny bool     // run once they finished, whatever their outcome
	// BudgetUSD is the job's budget: the score's max_cost_usd, raised by
	// `resume --budget`; 0 = none.
	BudgetUSD float64
	// PauseReason says why the job paused itself ("budget"); "" for a user's pause.
	PauseReason string
	// ScoreKey is the score's identity (name and stage hash): the runs that
	// share history, whatever their job ids. "" in runs from before it.
	ScoreKey string
}

// Validation is the outcome of one validation of an attempt.
type Validation struct {
	Type   string `json:"type"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// SheetRow is a sheet's current state within a run.
type SheetRow struct {
	RunKey          string
	Num             int
	Stage           string
	Voice           int
	VoiceCount      int
	Instrument      string
	Model           string
	Status          messages.SheetState
	Attempts        int // counted attempts used
	Tries           int // every try, counted or not (rate limits, interruptions)
	StartedAt       time.Time
	FinishedAt      time.Time
	ExitCode        *int
	Error           string
	WaitingUntil    time.Time
	RateLimitWaited time.Duration
	PID, PGID       int    // the live process while running, for crash cleanup
	ProcStart       uint64 // its start time in clock ticks, so a reused PID is never touched
	Validations     []Validation
	OutputTail      string
	InputTokens     int64
	OutputTokens    int64
	CostUSD         float64
	CostKnown       bool     // some try reported a cost; CostUSD is otherwise unknown, not zero
	TokensKnown     bool     // likewise for the token counts
	Profile         Profile  // of the latest try
	Notes           []string // stall and anomaly lines of the latest try
	SessionID       string   // the agent session of the latest try that reported one
}

// Profile summarises one try's resource use, from the profiler's samples.
type Profile struct {
	PeakRSSMB      float64
	CPUSeconds     float64
	MeanCPUPercent float64
	Stalled        bool
}

// AttemptRow is one try of a sheet.
type AttemptRow struct {
	RunKey      string
	Num, Try    int
	Counted     bool
	Outcome     messages.AttemptOutcome
	StartedAt   time.Time
	FinishedAt  time.Time
	ExitCode    *int
	Error       string
	Validations []Validation
	Profile     Profile
	// What the try reported: UsageKnown bit 1 = a cost, bit 2 = tokens.
	CostUSD                   float64
	InputTokens, OutputTokens int64
	UsageKnown                int
}

// Run is a job run with its sheets.
type Run struct {
	Job    JobRow
	Sheets []SheetRow
}

// FinishedStatuses are the job statuses a run never leaves by itself.
var FinishedStatuses = []messages.JobState{messages.JobCompleted, messages.JobFailed, messages.JobCancelled}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func validationsJSON(v []Validation) string {
	if len(v) == 0 {
		return "[]"
	}
	data, _ := json.Marshal(v) // plain structs of strings and bools cannot fail
	return string(data)
}

func notesJSON(notes []string) string {
	if len(notes) == 0 {
		return "[]"
	}
	data, _ := json.Marshal(notes) // []string always marshals
	return string(data)
}

func parseValidations(s string) []Validation {
	var v []Validation
	_ = json.Unmarshal([]byte(s), &v) // a damaged column reads as "no validations", never fails a load
	return v
}

// InsertRun stores a new run and its sheets, numbering the run after the
// previous runs of the same job id.
type InsertRun struct {
	Job    JobRow
	Sheets []SheetRow
}

func (op *InsertRun) apply(ctx context.Context, tx *sql.Tx) error {
	var last sql.NullInt64
	st, err := txStmt(ctx, tx, sqlLastRun)
	if err != nil {
		return fmt.Errorf("number run: %w", err)
	}
	if err := st.QueryRowContext(ctx, op.Job.JobID).Scan(&last); err != nil {
		return fmt.Errorf("number run: %w", err)
	}
	op.Job.Run = int(last.Int64) + 1
	if err := upsertJob(ctx, tx, &op.Job); err != nil {
		return err
	}
	for i := range op.Sheets {
		if err := upsertSheet(ctx, tx, &op.Sheets[i]); err != nil {
			return err
		}
	}
	return nil
}

// SaveJob updates a run's job row.
type SaveJob struct{ Job JobRow }

func (op *SaveJob) apply(ctx context.Context, tx *sql.Tx) error { return upsertJob(ctx, tx, &op.Job) }

// SaveSheets stores sheet states (and the job row, when set) in one transaction,
// with the attempt that produced the change when there is one.
type SaveSheets struct {
	Job     *JobRow
	Sheets  []SheetRow
	Attempt *AttemptRow
	Hooks   []HookRow // due because of this change: stored with it, run after
}

func (op *SaveSheets) apply(ctx context.Context, tx *sql.Tx) error {
	if err := insertHooks(ctx, tx, op.Hooks); err != nil {
		return err
	}
	if op.Job != nil {
		if err := upsertJob(ctx, tx, op.Job); err != nil {
			return err
		}
	}
	for i := range op.Sheets {
		if err := upsertSheet(ctx, tx, &op.Sheets[i]); err != nil {
			return err
		}
	}
	if a := op.Attempt; a != nil {
		err := execHot(ctx, tx, sqlInsertAttempt,
			a.RunKey, a.Num, a.Try, b2i(a.Counted), a.Outcome, nanos(a.StartedAt), nanos(a.FinishedAt),
			a.ExitCode, a.Error, validationsJSON(a.Validations),
			a.Profile.PeakRSSMB, a.Profile.CPUSeconds, a.Profile.MeanCPUPercent, b2i(a.Profile.Stalled),
			a.CostUSD, a.InputTokens, a.OutputTokens, a.UsageKnown)
		if err != nil {
			return fmt.Errorf("save attempt %d of sheet %d: %w", a.Try, a.Num, err)
		}
	}
	return nil
}

// PruneHistory deletes the oldest finished runs beyond keep.
type PruneHistory struct{ Keep int }

func (op *PruneHistory) apply(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE run_key IN (
		SELECT run_key FROM jobs WHERE status IN ('completed','failed','cancelled')
		ORDER BY finished_at DESC LIMIT -1 OFFSET ?)`, op.Keep)
	if err != nil {
		return fmt.Errorf("prune history: %w", err)
	}
	return dropUnusedScores(ctx, tx)
}

func upsertJob(ctx context.Context, tx *sql.Tx, j *JobRow) error {
	hash := ""
	if j.ScoreSource != nil {
		var err error
		if hash, err = putScore(ctx, tx, j.ScoreSource); err != nil {
			return err
		}
	}
	// The source is set once, at insert; later upserts leave it alone.
	err := execHot(ctx, tx, sqlUpsertJob,
		j.RunKey, j.JobID, j.Run, j.Name, j.Status, b2i(j.UserPaused), j.ScorePath, hash, j.Workspace,
		nanos(j.CreatedAt), nanos(j.StartedAt), nanos(j.FinishedAt), j.SheetsTotal, j.Error,
		j.Priority, j.Group, idsJSON(j.After), b2i(j.AfterAny), j.BudgetUSD, j.PauseReason, j.ScoreKey)
	if err != nil {
		return fmt.Errorf("save job %s: %w", j.JobID, err)
	}
	return nil
}

func upsertSheet(ctx context.Context, tx *sql.Tx, s *SheetRow) error {
	err := execHot(ctx, tx, sqlUpsertSheet,
		s.RunKey, s.Num, s.Stage, s.Voice, s.VoiceCount, s.Instrument, s.Model, s.Status, s.Attempts, s.Tries,
		nanos(s.StartedAt), nanos(s.FinishedAt), s.ExitCode, s.Error, nanos(s.WaitingUntil), int64(s.RateLimitWaited),
		s.PID, s.PGID, int64(s.ProcStart), validationsJSON(s.Validations), s.OutputTail,
		s.InputTokens, s.OutputTokens, s.CostUSD,
		s.Profile.PeakRSSMB, s.Profile.CPUSeconds, s.Profile.MeanCPUPercent, b2i(s.Profile.Stalled), notesJSON(s.Notes),
		s.SessionID, b2i(s.CostKnown), b2i(s.TokensKnown))
	if err != nil {
		return fmt.Errorf("save sheet %d: %w", s.Num, err)
	}
	return nil
}

// selectJobs reads jobs (as j) with their score source, from the scores
// table or, for a row a migration could not move, inline.
const selectJobs = `SELECT j.run_key, j.job_id, j.run, j.name, j.status, j.user_paused, j.score_path,
	COALESCE((SELECT source FROM scores WHERE hash = j.score_hash), j.score_source), j.workspace,
	j.created_at, j.started_at, j.finished_at, j.sheets_total, j.error,
	j.priority, j.group_name, j.after_jobs, j.after_any, j.budget_usd, j.pause_reason, j.score_key FROM jobs j`

// selectJobsNoSource is selectJobs without the (possibly large) source.
const selectJobsNoSource = `SELECT j.run_key, j.job_id, j.run, j.name, j.status, j.user_paused, j.score_path,
	NULL, j.workspace, j.created_at, j.started_at, j.finished_at, j.sheets_total, j.error,
	j.priority, j.group_name, j.after_jobs, j.after_any, j.budget_usd, j.pause_reason, j.score_key FROM jobs j`

func scanJob(sc interface{ Scan(...any) error }) (JobRow, error) {
	var j JobRow
	var paused, afterAny int
	var created, started, finished int64
	var after string
	err := sc.Scan(&j.RunKey, &j.JobID, &j.Run, &j.Name, &j.Status, &paused, &j.ScorePath, &j.ScoreSource,
		&j.Workspace, &created, &started, &finished, &j.SheetsTotal, &j.Error,
		&j.Priority, &j.Group, &after, &afterAny, &j.BudgetUSD, &j.PauseReason, &j.ScoreKey)
	j.UserPaused, j.AfterAny = paused != 0, afterAny != 0
	j.After = parseIDs(after)
	j.CreatedAt, j.StartedAt, j.FinishedAt = fromNanos(created), fromNanos(started), fromNanos(finished)
	return j, err
}

func (db *DB) sheetsOf(ctx context.Context, runKey string) ([]SheetRow, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT run_key, num, stage, voice, voice_count, instrument, model,
		status, attempts, tries, started_at, finished_at, exit_code, error, waiting_until, rate_limit_waited,
		pid, pgid, proc_start, validations, output_tail, input_tokens, output_tokens, cost_usd,
		peak_rss_mb, cpu_seconds, mean_cpu_percent, stalled, notes, session_id, cost_known, tokens_known
		FROM sheets WHERE run_key = ? ORDER BY num`, runKey)
	if err != nil {
		return nil, fmt.Errorf("read sheets: %w", err)
	}
	defer rows.Close()
	var out []SheetRow
	for rows.Next() {
		var s SheetRow
		var started, finished, waiting, waited, procStart int64
		var exit sql.NullInt64
		var vals, notes string
		var stalled, costKnown, tokensKnown int
		if err := rows.Scan(&s.RunKey, &s.Num, &s.Stage, &s.Voice, &s.VoiceCount, &s.Instrument, &s.Model,
			&s.Status, &s.Attempts, &s.Tries, &started, &finished, &exit, &s.Error, &waiting, &waited,
			&s.PID, &s.PGID, &procStart, &vals, &s.OutputTail, &s.InputTokens, &s.OutputTokens, &s.CostUSD,
			&s.Profile.PeakRSSMB, &s.Profile.CPUSeconds, &s.Profile.MeanCPUPercent, &stalled, &notes, &s.SessionID,
			&costKnown, &tokensKnown); err != nil {
			return nil, fmt.Errorf("read sheet: %w", err)
		}
		s.StartedAt, s.FinishedAt, s.WaitingUntil = fromNanos(started), fromNanos(finished), fromNanos(waiting)
		s.RateLimitWaited, s.ProcStart = time.Duration(waited), uint64(procStart)
		if exit.Valid {
			code := int(exit.Int64)
			s.ExitCode = &code
		}
		s.Validations = parseValidations(vals)
		s.Profile.Stalled = stalled != 0
		s.CostKnown, s.TokensKnown = costKnown != 0, tokensKnown != 0
		if notes != "[]" {
			json.Unmarshal([]byte(notes), &s.Notes) // a damaged note list is not worth failing a load
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ActiveRuns returns every run that has not finished, with its sheets: what
// a starting conductor must pick up again.
func (db *DB) ActiveRuns(ctx context.Context) ([]Run, error) {
	rows, err := db.read.QueryContext(ctx, selectJobs+`
		WHERE j.status NOT IN ('completed','failed','cancelled') ORDER BY j.created_at`)
	if err != nil {
		return nil, fmt.Errorf("read active runs: %w", err)
	}
	var jobs []JobRow
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read job: %w", err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Run, 0, len(jobs))
	for _, j := range jobs {
		sheets, err := db.sheetsOf(ctx, j.RunKey)
		if err != nil {
			return nil, err
		}
		out = append(out, Run{Job: j, Sheets: sheets})
	}
	return out, nil
}

// LatestRun returns the newest run of jobID; ok is false when there is none.
func (db *DB) LatestRun(ctx context.Context, jobID string) (run Run, ok bool, err error) {
	row := db.read.QueryRowContext(ctx, selectJobs+` WHERE j.job_id = ? ORDER BY j.run DESC LIMIT 1`, jobID)
	j, err := scanJob(row)
	if err == sql.ErrNoRows {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("read job %s: %w", jobID, err)
	}
	sheets, err := db.sheetsOf(ctx, j.RunKey)
	if err != nil {
		return Run{}, false, err
	}
	return Run{Job: j, Sheets: sheets}, true, nil
}

// SheetCounts is a run's sheets by status.
type SheetCounts map[messages.SheetState]int

// FinishedJobs lists the latest run of every job id whose latest run has
// finished, newest first, with completed-sheet counts (no sheets loaded).
func (db *DB) FinishedJobs(ctx context.Context, exclude map[string]bool) ([]JobRow, map[string]SheetCounts, error) {
	jobs, counts, _, err := db.FinishedJobsUsage(ctx, exclude)
	return jobs, counts, err
}

// FinishedJobsUsage is FinishedJobs with what each run's sheets reported
// spending, summed in the same pass over the sheets.
func (db *DB) FinishedJobsUsage(ctx context.Context, exclude map[string]bool) ([]JobRow, map[string]SheetCounts, map[string]Usage, error) {
	rows, err := db.read.QueryContext(ctx, selectJobsNoSource+`
		WHERE j.run = (SELECT max(run) FROM jobs WHERE job_id = j.job_id)
		AND j.status IN ('completed','failed','cancelled') ORDER BY j.created_at DESC`)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list finished jobs: %w", err)
	}
	var out []JobRow
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, nil, nil, fmt.Errorf("read job: %w", err)
		}
		if !exclude[j.JobID] {
			j.ScoreSource = nil
			out = append(out, j)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, nil, err
	}
	counts, usage := map[string]SheetCounts{}, map[string]Usage{}
	crow, err := db.read.QueryContext(ctx, `SELECT s.run_key, s.status, count(*),
		sum(CASE WHEN s.cost_known THEN s.cost_usd ELSE 0 END), max(s.cost_known),
		sum(CASE WHEN s.tokens_known THEN s.input_tokens ELSE 0 END),
		sum(CASE WHEN s.tokens_known THEN s.output_tokens ELSE 0 END), max(s.tokens_known)
		FROM sheets s JOIN jobs j ON j.run_key = s.run_key
		WHERE j.status IN ('completed','failed','cancelled') GROUP BY s.run_key, s.status`)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("count sheets: %w", err)
	}
	defer crow.Close()
	for crow.Next() {
		var key, status string
		var n, costKnown, tokensKnown int
		var cost float64
		var in, outTokens int64
		if err := crow.Scan(&key, &status, &n, &cost, &costKnown, &in, &outTokens, &tokensKnown); err != nil {
			return nil, nil, nil, err
		}
		if counts[key] == nil {
			counts[key] = SheetCounts{}
		}
		counts[key][messages.SheetState(status)] = n
		u := usage[key]
		if costKnown != 0 {
			u.CostUSD, u.CostKnown = u.CostUSD+cost, true
		}
		if tokensKnown != 0 {
			u.InputTokens, u.OutputTokens, u.TokensKnown = u.InputTokens+in, u.OutputTokens+outTokens, true
		}
		usage[key] = u
	}
	return out, counts, usage, crow.Err()
}

// MarkFailed records a run as failed without its actor (which died).
type MarkFailed struct {
	JobID  string
	Run    int
	Reason string
}

func (op *MarkFailed) apply(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'failed', error = ?, finished_at = ?
		WHERE job_id = ? AND run = ? AND status NOT IN ('completed','failed','cancelled')`,
		op.Reason, time.Now().UnixNano(), op.JobID, op.Run)
	if err != nil {
		return fmt.Errorf("mark job %s failed: %w", op.JobID, err)
	}
	return nil
}

// Attempts returns the recorded tries of one sheet of a run, oldest first.
func (db *DB) Attempts(ctx context.Context, runKey string, num int) ([]AttemptRow, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT run_key, num, try, counted, outcome, started_at, finished_at,
		exit_code, error, validations, peak_rss_mb, cpu_seconds, mean_cpu_percent, stalled
		FROM attempts WHERE run_key = ? AND num = ? ORDER BY try`, runKey, num)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	var out []AttemptRow
	for rows.Next() {
		var a AttemptRow
		var counted, stalled int
		var started, finished int64
		var exit sql.NullInt64
		var vals string
		if err := rows.Scan(&a.RunKey, &a.Num, &a.Try, &counted, &a.Outcome, &started, &finished, &exit, &a.Error, &vals,
			&a.Profile.PeakRSSMB, &a.Profile.CPUSeconds, &a.Profile.MeanCPUPercent, &stalled); err != nil {
			return nil, fmt.Errorf("read attempt: %w", err)
		}
		a.Counted, a.Profile.Stalled = counted != 0, stalled != 0
		a.StartedAt, a.FinishedAt = fromNanos(started), fromNanos(finished)
		if exit.Valid {
			code := int(exit.Int64)
			a.ExitCode = &code
		}
		a.Validations = parseValidations(vals)
		out = append(out, a)
	}
	return out, rows.Err()
}
