// Package store owns state.db: the durable truth about jobs, sheets and
// attempts. The store actor is its only writer (writes are applied in order
// by one goroutine, each in a transaction); reads run on a separate pool.
// Every other actor rebuilds its state from here after a restart.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// DB is an open state database.
type DB struct {
	write *sql.DB // one connection: SQLite has one writer anyway
	read  *sql.DB
	log   *slog.Logger
}

// migrations are applied in order; never edit one that has shipped, add a new one.
var migrations = []string{
	// 1: jobs, sheets, attempts.
	`CREATE TABLE jobs (
		run_key      TEXT PRIMARY KEY,
		job_id       TEXT NOT NULL,
		run          INTEGER NOT NULL,
		name         TEXT NOT NULL DEFAULT '',
		status       TEXT NOT NULL,
		user_paused  INTEGER NOT NULL DEFAULT 0,
		score_path   TEXT NOT NULL DEFAULT '',
		score_source BLOB,
		workspace    TEXT NOT NULL DEFAULT '',
		created_at   INTEGER NOT NULL DEFAULT 0,
		started_at   INTEGER NOT NULL DEFAULT 0,
		finished_at  INTEGER NOT NULL DEFAULT 0,
		sheets_total INTEGER NOT NULL DEFAULT 0,
		error        TEXT NOT NULL DEFAULT '',
		UNIQUE (job_id, run)
	);
	CREATE INDEX jobs_by_status ON jobs (status);
	CREATE TABLE sheets (
		run_key       TEXT NOT NULL REFERENCES jobs (run_key) ON DELETE CASCADE,
		num           INTEGER NOT NULL,
		stage         TEXT NOT NULL,
		voice         INTEGER NOT NULL,
		voice_count   INTEGER NOT NULL,
		instrument    TEXT NOT NULL,
		model         TEXT NOT NULL DEFAULT '',
		status        TEXT NOT NULL,
		attempts      INTEGER NOT NULL DEFAULT 0,
		tries         INTEGER NOT NULL DEFAULT 0,
		started_at    INTEGER NOT NULL DEFAULT 0,
		finished_at   INTEGER NOT NULL DEFAULT 0,
		exit_code     INTEGER,
		error         TEXT NOT NULL DEFAULT '',
		waiting_until INTEGER NOT NULL DEFAULT 0,
		rate_limit_waited INTEGER NOT NULL DEFAULT 0,
		pid           INTEGER NOT NULL DEFAULT 0,
		pgid          INTEGER NOT NULL DEFAULT 0,
		proc_start    INTEGER NOT NULL DEFAULT 0,
		validations   TEXT NOT NULL DEFAULT '[]',
		output_tail   TEXT NOT NULL DEFAULT '',
		input_tokens  INTEGER NOT NULL DEFAULT 0,
		output_tokens INTEGER NOT NULL DEFAULT 0,
		cost_usd      REAL NOT NULL DEFAULT 0,
		PRIMARY KEY (run_key, num)
	);
	CREATE TABLE attempts (
		run_key     TEXT NOT NULL REFERENCES jobs (run_key) ON DELETE CASCADE,
		num         INTEGER NOT NULL,
		try         INTEGER NOT NULL,
		counted     INTEGER NOT NULL,
		outcome     TEXT NOT NULL,
		started_at  INTEGER NOT NULL,
		finished_at INTEGER NOT NULL,
		exit_code   INTEGER,
		error       TEXT NOT NULL DEFAULT '',
		validations TEXT NOT NULL DEFAULT '[]',
		PRIMARY KEY (run_key, num, try)
	);`,
	// 2: events, profiler samples, and each try's resource summary.
	`CREATE TABLE events (
		seq     INTEGER PRIMARY KEY,
		time    INTEGER NOT NULL,
		kind    TEXT NOT NULL,
		job_id  TEXT NOT NULL DEFAULT '',
		sheet   INTEGER NOT NULL DEFAULT 0,
		attempt INTEGER NOT NULL DEFAULT 0,
		stage   TEXT NOT NULL DEFAULT '',
		status  TEXT NOT NULL DEFAULT '',
		detail  TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX events_by_job ON events (job_id, seq);
	CREATE TABLE samples (
		run_key     TEXT NOT NULL REFERENCES jobs (run_key) ON DELETE CASCADE,
		num         INTEGER NOT NULL,
		try         INTEGER NOT NULL,
		time        INTEGER NOT NULL,
		resolution  INTEGER NOT NULL DEFAULT 0,
		cpu_percent REAL NOT NULL DEFAULT 0,
		rss_mb      REAL NOT NULL DEFAULT 0,
		threads     INTEGER NOT NULL DEFAULT 0,
		processes   INTEGER NOT NULL DEFAULT 0,
		open_files  INTEGER NOT NULL DEFAULT 0,
		read_bytes  INTEGER NOT NULL DEFAULT 0,
		write_bytes INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX samples_by_try ON samples (run_key, num, try, time);
	CREATE INDEX samples_by_time ON samples (time);
	ALTER TABLE attempts ADD COLUMN peak_rss_mb REAL NOT NULL DEFAULT 0;
	ALTER TABLE attempts ADD COLUMN cpu_seconds REAL NOT NULL DEFAULT 0;
	ALTER TABLE attempts ADD COLUMN mean_cpu_percent REAL NOT NULL DEFAULT 0;
	ALTER TABLE attempts ADD COLUMN stalled INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE sheets ADD COLUMN peak_rss_mb REAL NOT NULL DEFAULT 0;
	ALTER TABLE sheets ADD COLUMN cpu_seconds REAL NOT NULL DEFAULT 0;
	ALTER TABLE sheets ADD COLUMN mean_cpu_percent REAL NOT NULL DEFAULT 0;
	ALTER TABLE sheets ADD COLUMN stalled INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE sheets ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';`,
	// 3: score sources stored once per content (moveScoreSources moves the
	// inline copies of earlier runs).
	`CREATE TABLE scores (
		hash   TEXT PRIMARY KEY,
		source BLOB NOT NULL
	);
	ALTER TABLE jobs ADD COLUMN score_hash TEXT NOT NULL DEFAULT '';
	CREATE INDEX jobs_by_score ON jobs (score_hash);`,
}

// migrationSteps are Go steps run right after the SQL migration of the same
// number (1-based), in its transaction.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	3: moveScoreSources,
}

// SchemaVersion is the version a freshly migrated database has.
var SchemaVersion = len(migrations)

// Open opens (creating if needed) the database in WAL mode and migrates it.
func Open(path string, log *slog.Logger) (*DB, error) {
	dsn := fmt.Sprintf("file:%s?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)", path)
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	db := &DB{write: w, read: r, log: log}
	if err := db.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.write.Close(), db.read.Close())
}

func (db *DB) migrate() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var version int
	if err := db.write.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("state.db has schema version %d, newer than this mzt knows (%d): use a newer mzt", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if step := migrationSteps[v+1]; step != nil {
			if err := step(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		db.log.Info("state.db migrated", "version", v+1)
	}
	return nil
}

// Version reports the schema version.
func (db *DB) Version() (int, error) {
	var v int
	err := db.read.QueryRow("PRAGMA user_version").Scan(&v)
	return v, err
}
