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
	"os"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// DB is an open state database.
type DB struct {
	write *sql.DB // one connection: SQLite has one writer anyway
	read  *sql.DB
	log   *slog.Logger
	stmts stmts // the hot write statements, compiled on write
	cache readCache
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
	// 4: the agent session of a sheet's latest try (a retry may continue it).
	`ALTER TABLE sheets ADD COLUMN session_id TEXT NOT NULL DEFAULT '';`,
	// 5: queue controls: a job's priority, group and the jobs it waits
	// for; groups and their parallelism.
	`ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE jobs ADD COLUMN after_jobs TEXT NOT NULL DEFAULT '[]';
	ALTER TABLE jobs ADD COLUMN after_any INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE job_groups (
		name     TEXT PRIMARY KEY,
		parallel INTEGER NOT NULL
	);
	CREATE TABLE hooks (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		job_id     TEXT NOT NULL,
		event      TEXT NOT NULL,
		run        TEXT NOT NULL,
		url        TEXT NOT NULL,
		dir        TEXT NOT NULL,
		env        TEXT NOT NULL,
		body       TEXT NOT NULL,
		timeout_ms INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		done_at    INTEGER NOT NULL DEFAULT 0,
		error      TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX hooks_due ON hooks (done_at, id);`,
	// 6: whether a sheet's cost and tokens were reported at all (an unknown
	// cost is not a zero one), a job's budget (raised by resume), and why a job
	// paused itself.
	`ALTER TABLE sheets ADD COLUMN cost_known INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE sheets ADD COLUMN tokens_known INTEGER NOT NULL DEFAULT 0;
	UPDATE sheets SET cost_known = 1 WHERE cost_usd > 0;
	UPDATE sheets SET tokens_known = 1 WHERE input_tokens > 0 OR output_tokens > 0;
	ALTER TABLE jobs ADD COLUMN budget_usd REAL NOT NULL DEFAULT 0;
	ALTER TABLE jobs ADD COLUMN pause_reason TEXT NOT NULL DEFAULT '';
	ALTER TABLE attempts ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
	ALTER TABLE attempts ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE attempts ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE attempts ADD COLUMN usage_known INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX attempts_by_finish ON attempts (finished_at);
	ALTER TABLE jobs ADD COLUMN score_key TEXT NOT NULL DEFAULT '';`,
	// 7: each run's sheet tallies, kept by triggers in the transaction that
	// changes a sheet, so that listing the history reads one row per job
	// instead of every sheet ever run; and an index for newest-first pages.
	tallyMigration,
}

// migrationSteps are Go steps run right after the SQL migration of the same
// number (1-based), in its transaction.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	3: moveScoreSources,
}

// SchemaVersion is the version a freshly migrated database has.
var SchemaVersion = len(migrations)

// Open opens (creating if needed) the database in WAL mode, checks it is
// not corrupt and migrates it. The file is created 0600 (SQLite gives its
// -wal and -shm files the database file's mode).
func Open(path string, log *slog.Logger) (*DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	// A crash leaves a -wal beside the file; opening creates one anyway.
	_, walErr := os.Lstat(path + "-wal")
	leftWAL := walErr == nil
	dsn := fmt.Sprintf("file:%s?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)", path)
	// The writer never checkpoints (checkpoint.go).
	w, err := sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint(0)")
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
	if err := db.checkIntegrity(path, leftWAL); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if db.stmts, err = prepareWrites(ctx, w); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// createPrivate creates path with mode 0600 if it does not exist, and takes
// group and other access away from an existing one: state.db holds every
// prompt and score.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(fi.Mode().Perm() &^ 0o077); err != nil {
			return fmt.Errorf("restrict %s to its owner: %w", path, err)
		}
	}
	return nil
}

// maxCorruptionReport bounds how many problems quick_check lists.
const maxCorruptionReport = 3

// checkIntegrity runs PRAGMA quick_check, so that a corrupt file is refused
// at start instead of failing reads later while new jobs are written into it.
// The conductor refuses to start rather than moving the file aside itself:
// the user may want to salvage it (sqlite3 .recover).
// leftWAL says a -wal file was there before this open: it goes with the file.
func (db *DB) checkIntegrity(path string, leftWAL bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var problems []string
	rows, err := db.write.QueryContext(ctx, fmt.Sprintf("PRAGMA quick_check(%d)", maxCorruptionReport))
	if err == nil {
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				break
			}
			if line != "ok" {
				problems = append(problems, strings.Join(strings.Fields(line), " "))
			}
		}
		err = errors.Join(rows.Err(), rows.Close())
	}
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		return nil
	}
	move := fmt.Sprintf("mv %s %s.corrupt", path, path)
	if leftWAL {
		// Named so that SQLite finds it beside the moved file.
		move += fmt.Sprintf(" && mv %s-wal %s.corrupt-wal", path, path)
	}
	return fmt.Errorf("%s is corrupt (%s); move it aside to start with an empty history: %s",
		path, strings.Join(problems, "; "), move)
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.stmts.close(), db.write.Close(), db.read.Close())
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
