package store

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeFrozen regenerates testdata/state/v<SchemaVersion>.db from frozenRun.
// Run it once when a migration is added (go test ./actors/store -run
// TestWriteFrozenDB -write-frozen) and commit the new file; never rewrite an
// existing one.
var writeFrozen = flag.Bool("write-frozen", false, "write testdata/state/v<SchemaVersion>.db for the current schema")

var frozenDir = filepath.Join("..", "..", "testdata", "state")

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// recordingHandler keeps every record's message, for asserting what was logged.
type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

func openDB(t *testing.T, path string, log *slog.Logger) *DB {
	t.Helper()
	db, err := Open(path, log)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return db
}

// applyOps runs ops in one transaction on the write pool, as the store actor would.
func applyOps(t *testing.T, db *DB, ops ...Op) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if err := op.apply(ctx, tx); err != nil {
			tx.Rollback()
			t.Fatalf("apply %T: %v", op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.cache.invalidate() // as the store actor does after a write
}

func TestMigrateFreshReachesSchemaVersion(t *testing.T) {
	rec := &recordingHandler{}
	db := openDB(t, filepath.Join(t.TempDir(), "state.db"), slog.New(rec))
	defer db.Close()
	v, err := db.Version()
	if err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion {
		t.Fatalf("fresh database at version %d, want %d", v, SchemaVersion)
	}
	if got := rec.count("state.db migrated"); got != SchemaVersion {
		t.Errorf("logged %d migrations, want %d (one per migration)", got, SchemaVersion)
	}
	for _, table := range []string{"jobs", "sheets", "attempts"} {
		var n int
		if err := db.read.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("table %s missing after migration", table)
		}
	}
	var mode string
	if err := db.read.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestMigrateReopenIsNoOp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path, discardLog())
	job, sheets, _ := frozenRun()
	applyOps(t, db, &InsertRun{Job: job, Sheets: sheets})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	rec := &recordingHandler{}
	db = openDB(t, path, slog.New(rec))
	defer db.Close()
	if got := rec.count("state.db migrated"); got != 0 {
		t.Errorf("reopening ran %d migrations, want none", got)
	}
	v, err := db.Version()
	if err != nil || v != SchemaVersion {
		t.Fatalf("Version() = %d, %v; want %d", v, err, SchemaVersion)
	}
	run, ok, err := db.LatestRun(context.Background(), job.JobID)
	if err != nil || !ok {
		t.Fatalf("LatestRun after reopen: ok=%v err=%v", ok, err)
	}
	if len(run.Sheets) != len(sheets) {
		t.Errorf("reopened run has %d sheets, want %d", len(run.Sheets), len(sheets))
	}
}

func TestMigrateRefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path, discardLog())
	newer := SchemaVersion + 1
	if _, err := db.write.Exec(fmt.Sprintf("PRAGMA user_version = %d", newer)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(path, discardLog())
	if err == nil {
		db.Close()
		t.Fatal("Open accepted a database newer than this build")
	}
	msg := err.Error()
	for _, want := range []string{path, fmt.Sprintf("schema version %d", newer), fmt.Sprint(SchemaVersion), "use a newer mzt"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}

	// The refused database is left as it was.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// user_version lives in the header at offset 60, big-endian.
	if got := int(raw[60])<<24 | int(raw[61])<<16 | int(raw[62])<<8 | int(raw[63]); got != newer {
		t.Errorf("refused database now has user_version %d, want it untouched at %d", got, newer)
	}
}

// frozenRun is the content of every frozen database: one active run of two
// sheets (one finished with an attempt, one running) using every column.
func frozenRun() (JobRow, []SheetRow, AttemptRow) {
	at := func(sec int64) time.Time { return time.Unix(1_750_000_000+sec, 0) }
	zero := 0
	job := JobRow{
		RunKey: "frozen-job.1", JobID: "frozen-job", Name: "frozen score", Status: "running",
		UserPaused: true, ScorePath: "/scores/frozen.toml", ScoreSource: []byte("name = \"frozen\"\n"),
		Workspace: "/work/frozen", CreatedAt: at(0), StartedAt: at(1), SheetsTotal: 2, Error: "",
	}
	sheets := []SheetRow{
		{
			RunKey: job.RunKey, Num: 1, Stage: "build", Voice: 1, VoiceCount: 1, Instrument: "shell",
			Model: "", Status: "completed", Attempts: 1, Tries: 2, StartedAt: at(2), FinishedAt: at(3),
			ExitCode: &zero, Validations: []Validation{{Type: "file_exists", Passed: true, Detail: "out.txt"}},
			OutputTail: "built\n", InputTokens: 120, OutputTokens: 45, CostUSD: 0.25, CostKnown: true, TokensKnown: true, // known: reported before the flags existed
			RateLimitWaited: 90 * time.Second,
		},
		{
			RunKey: job.RunKey, Num: 2, Stage: "test", Voice: 2, VoiceCount: 3, Instrument: "claude-code",
			Model: "opus", Status: "running", Attempts: 1, Tries: 1, StartedAt: at(4),
			WaitingUntil: at(10), PID: 4242, PGID: 4242, ProcStart: 987654321, Error: "previous try: exit 1",
		},
	}
	attempt := AttemptRow{
		RunKey: job.RunKey, Num: 1, Try: 2, Counted: true, Outcome: "completed", StartedAt: at(2),
		FinishedAt: at(3), ExitCode: &zero, Validations: sheets[0].Validations,
	}
	return job, sheets, attempt
}

// normalise makes rows read back from the database comparable with the
// fixture: an empty validations list reads back as an empty slice.
func normalise(sheets []SheetRow) []SheetRow {
	out := make([]SheetRow, len(sheets))
	for i, s := range sheets {
		if len(s.Validations) == 0 {
			s.Validations = nil
		}
		out[i] = s
	}
	return out
}

func checkFrozenRun(t *testing.T, got Run) {
	t.Helper()
	job, sheets, _ := frozenRun()
	job.Run = 1
	if !reflect.DeepEqual(got.Job, job) {
		t.Errorf("job read back as\n%+v\nwant\n%+v", got.Job, job)
	}
	if g, w := normalise(got.Sheets), normalise(sheets); !reflect.DeepEqual(g, w) {
		t.Errorf("sheets read back as\n%+v\nwant\n%+v", g, w)
	}
}

func TestFrozenDatabasesStillLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(frozenDir, "v*.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no frozen databases under %s", frozenDir)
	}
	if _, err := os.Stat(filepath.Join(frozenDir, "v1.db")); err != nil {
		t.Fatalf("the v1 frozen database is missing: %v", err)
	}
	for _, frozen := range files {
		t.Run(filepath.Base(frozen), func(t *testing.T) {
			// Work on a copy: opening migrates and writes WAL files.
			path := filepath.Join(t.TempDir(), "state.db")
			copyFile(t, frozen, path)
			db := openDB(t, path, discardLog())
			defer db.Close()
			if v, err := db.Version(); err != nil || v != SchemaVersion {
				t.Fatalf("after migration: version %d, %v; want %d", v, err, SchemaVersion)
			}
			ctx := context.Background()
			runs, err := db.ActiveRuns(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 {
				t.Fatalf("ActiveRuns returned %d runs, want 1", len(runs))
			}
			checkFrozenRun(t, runs[0])
			latest, ok, err := db.LatestRun(ctx, "frozen-job")
			if err != nil || !ok {
				t.Fatalf("LatestRun: ok=%v err=%v", ok, err)
			}
			checkFrozenRun(t, latest)
			var attempts int
			if err := db.read.QueryRow(`SELECT count(*) FROM attempts WHERE run_key = ?`, "frozen-job.1").Scan(&attempts); err != nil {
				t.Fatal(err)
			}
			if attempts != 1 {
				t.Errorf("frozen database has %d attempts, want 1", attempts)
			}
		})
	}
}

func TestWriteFrozenDB(t *testing.T) {
	if !*writeFrozen {
		t.Skip("only with -write-frozen")
	}
	dst := filepath.Join(frozenDir, fmt.Sprintf("v%d.db", SchemaVersion))
	if _, err := os.Stat(dst); err == nil {
		t.Fatalf("%s exists: frozen databases are never rewritten", dst)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path, discardLog())
	job, sheets, attempt := frozenRun()
	applyOps(t, db, &InsertRun{Job: job, Sheets: sheets[:1]},
		&SaveSheets{Sheets: sheets[1:], Attempt: &attempt})
	if _, err := db.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("WAL not checkpointed into %s", path)
	}
	if err := os.MkdirAll(frozenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, path, dst)
	t.Logf("wrote %s", dst)
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
