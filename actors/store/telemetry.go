package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// InsertEvents appends events (their seq is already assigned by the event
// log). Events beyond Keep are pruned, oldest first, in the same transaction.
type InsertEvents struct {
	Events []*messages.Event
	Keep   int // 0 = keep everything
}

func (op *InsertEvents) apply(ctx context.Context, tx *sql.Tx) error {
	stmt, err := txStmt(ctx, tx, sqlInsertEvent)
	if err != nil {
		return fmt.Errorf("save events: %w", err)
	}
	for _, e := range op.Events {
		if _, err := stmt.ExecContext(ctx, e.GetSeq(), e.GetTimeUnixNano(), e.GetKind(), e.GetJobId(), e.GetSheet(),
			e.GetAttempt(), e.GetStage(), e.GetStatus(), e.GetDetail()); err != nil {
			return fmt.Errorf("save event %d: %w", e.GetSeq(), err)
		}
	}
	if op.Keep > 0 && len(op.Events) > 0 {
		last := op.Events[len(op.Events)-1].GetSeq()
		if err := execHot(ctx, tx, sqlPruneEvents, last-int64(op.Keep)); err != nil {
			return fmt.Errorf("prune events: %w", err)
		}
	}
	return nil
}

// LastEventSeq is the highest event sequence number stored (0 when none).
func (db *DB) LastEventSeq(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT max(seq) FROM events`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read last event: %w", err)
	}
	return seq.Int64, nil
}

// Events returns up to limit events with seq below before (0 = no bound),
// of one job ("" = every event), oldest first.
func (db *DB) Events(ctx context.Context, jobID string, before int64, limit int) ([]*messages.Event, error) {
	if before <= 0 {
		before = 1 << 62
	}
	q := `SELECT seq, time, kind, job_id, sheet, attempt, stage, status, detail FROM events
		WHERE seq < ? AND (? = '' OR job_id = ?) ORDER BY seq DESC LIMIT ?`
	rows, err := db.read.QueryContext(ctx, q, before, jobID, jobID, limit)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []*messages.Event
	for rows.Next() {
		e := &messages.Event{}
		if err := rows.Scan(&e.Seq, &e.TimeUnixNano, &e.Kind, &e.JobId, &e.Sheet, &e.Attempt, &e.Stage,
			&e.Status, &e.Detail); err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, rows.Err()
}

// Sample is one profiler reading of a try's process tree.
type Sample struct {
	RunKey        string
	Num, Try      int
	Time          time.Time
	CPUPercent    float64 // of one core
	RSSMB         float64
	Threads       int
	Processes     int
	OpenFiles     int
	ReadBytes     int64
	WriteBytes    int64
	ResolutionSec int // 0 = a raw sample; 60 = a one-minute aggregate
}

// InsertSamples stores one round of profiler samples.
type InsertSamples struct{ Samples []Sample }

func (op *InsertSamples) apply(ctx context.Context, tx *sql.Tx) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO samples (run_key, num, try, time, resolution, cpu_percent,
		rss_mb, threads, processes, open_files, read_bytes, write_bytes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return fmt.Errorf("save samples: %w", err)
	}
	defer stmt.Close()
	for _, s := range op.Samples {
		// A sample of a run that history already pruned is dropped, not an error.
		if _, err := stmt.ExecContext(ctx, s.RunKey, s.Num, s.Try, nanos(s.Time), s.ResolutionSec, s.CPUPercent,
			s.RSSMB, s.Threads, s.Processes, s.OpenFiles, s.ReadBytes, s.WriteBytes); err != nil && !isForeignKey(err) {
			return fmt.Errorf("save sample of sheet %d: %w", s.Num, err)
		}
	}
	return nil
}

func isForeignKey(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "foreign key")
}

// CompactSamples applies retention and downsampling: raw samples older than
// DownsampleBefore become one row per try and minute (mean CPU, peak of the
// rest); anything older than DropBefore is deleted.
type CompactSamples struct {
	DownsampleBefore, DropBefore time.Time
}

func (op *CompactSamples) apply(ctx context.Context, tx *sql.Tx) error {
	const minute = int64(time.Minute)
	// A whole minute is either aggregated or left raw, never split in two.
	cut := nanos(op.DownsampleBefore.Truncate(time.Minute))
	if _, err := tx.ExecContext(ctx, `INSERT INTO samples (run_key, num, try, time, resolution, cpu_percent, rss_mb,
		threads, processes, open_files, read_bytes, write_bytes)
		SELECT run_key, num, try, (time / ?) * ?, 60, avg(cpu_percent), max(rss_mb), max(threads), max(processes),
		       max(open_files), max(read_bytes), max(write_bytes)
		FROM samples WHERE resolution = 0 AND time < ?
		GROUP BY run_key, num, try, time / ?`, minute, minute, cut, minute); err != nil {
		return fmt.Errorf("downsample samples: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM samples WHERE resolution = 0 AND time < ?`, cut); err != nil {
		return fmt.Errorf("downsample samples: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM samples WHERE time < ?`, nanos(op.DropBefore)); err != nil {
		return fmt.Errorf("drop old samples: %w", err)
	}
	return nil
}

// SamplesOf returns a try's samples, oldest first.
func (db *DB) SamplesOf(ctx context.Context, runKey string, num, try int) ([]Sample, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT time, resolution, cpu_percent, rss_mb, threads, processes,
		open_files, read_bytes, write_bytes FROM samples WHERE run_key = ? AND num = ? AND try = ? ORDER BY time`,
		runKey, num, try)
	if err != nil {
		return nil, fmt.Errorf("read samples: %w", err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		s := Sample{RunKey: runKey, Num: num, Try: try}
		var t int64
		if err := rows.Scan(&t, &s.ResolutionSec, &s.CPUPercent, &s.RSSMB, &s.Threads, &s.Processes, &s.OpenFiles,
			&s.ReadBytes, &s.WriteBytes); err != nil {
			return nil, fmt.Errorf("read sample: %w", err)
		}
		s.Time = fromNanos(t)
		out = append(out, s)
	}
	return out, rows.Err()
}

// FinishedTry is one finished try with what it ran, for statistics.
type FinishedTry struct {
	JobID, JobName, Stage, Instrument string
	Outcome                           messages.AttemptOutcome
	Duration                          time.Duration
	Error                             string
	Profile                           Profile
	FinishedAt                        time.Time
	// ScoreKey is the score's identity (the job id for runs from before it).
	ScoreKey string
	RunKey   string
	Num      int
	// What the try reported spending; CostKnown false: nothing.
	CostUSD   float64
	CostKnown bool
}

// FinishedTries returns tries that ended by themselves (completed, failed,
// timed out, stalled), newest first, at most limit, of one job id or name
// ("" = all).
func (db *DB) FinishedTries(ctx context.Context, score string, limit int) ([]FinishedTry, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT j.job_id, j.name, s.stage, s.instrument, a.outcome,
		a.finished_at - a.started_at, a.error, a.peak_rss_mb, a.cpu_seconds, a.mean_cpu_percent, a.stalled, a.finished_at,
		CASE j.score_key WHEN '' THEN j.job_id ELSE j.score_key END, a.run_key, a.num, a.cost_usd, a.usage_known & 1
		FROM attempts a JOIN sheets s ON s.run_key = a.run_key AND s.num = a.num JOIN jobs j ON j.run_key = a.run_key
		WHERE a.outcome IN ('completed','failed','timed_out','stalled') AND (? = '' OR j.job_id = ? OR j.name = ? OR j.score_key = ?
		 OR (j.score_key != '' AND j.score_key IN (SELECT score_key FROM jobs WHERE job_id = ? OR name = ?)))
		ORDER BY a.finished_at DESC LIMIT ?`, score, score, score, score, score, score, limit)
	if err != nil {
		return nil, fmt.Errorf("read finished tries: %w", err)
	}
	defer rows.Close()
	var out []FinishedTry
	for rows.Next() {
		var t FinishedTry
		var dur, finished int64
		var stalled, costKnown int
		if err := rows.Scan(&t.JobID, &t.JobName, &t.Stage, &t.Instrument, &t.Outcome, &dur, &t.Error,
			&t.Profile.PeakRSSMB, &t.Profile.CPUSeconds, &t.Profile.MeanCPUPercent, &stalled, &finished,
			&t.ScoreKey, &t.RunKey, &t.Num, &t.CostUSD, &costKnown); err != nil {
			return nil, fmt.Errorf("read finished try: %w", err)
		}
		t.Duration, t.Profile.Stalled, t.FinishedAt = time.Duration(dur), stalled != 0, fromNanos(finished)
		t.CostKnown = costKnown != 0
		out = append(out, t)
	}
	return out, rows.Err()
}

func (*InsertEvents) telemetry()   {}
func (*InsertSamples) telemetry()  {}
func (*CompactSamples) telemetry() {}
