package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fileSize is the size of the database once its WAL is folded in.
func fileSize(t *testing.T, db *DB, path string) int64 {
	t.Helper()
	if _, err := db.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestSameScoreIsStoredOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path, discardLog())
	defer db.Close()
	source := make([]byte, 3<<20)
	rand.Read(source) // incompressible, as a worst case
	before := fileSize(t, db, path)
	for i := range 20 {
		job := JobRow{RunKey: fmt.Sprintf("big.%d", i+1), JobID: "big", Status: "completed",
			ScorePath: "/s/big.toml", ScoreSource: source, CreatedAt: time.Now(), FinishedAt: time.Now()}
		applyOps(t, db, &InsertRun{Job: job})
	}
	grown := fileSize(t, db, path) - before
	t.Logf("20 runs of a %d-byte score grew state.db by %d bytes", len(source), grown)
	if grown >= 2*int64(len(source)) {
		t.Errorf("20 runs of a %d-byte score grew state.db by %d bytes, want less than two copies", len(source), grown)
	}
	run, ok, err := db.LatestRun(context.Background(), "big")
	if err != nil || !ok {
		t.Fatalf("LatestRun: ok=%v err=%v", ok, err)
	}
	if string(run.Job.ScoreSource) != string(source) {
		t.Errorf("the score source read back differs (%d bytes, want %d)", len(run.Job.ScoreSource), len(source))
	}

	// A different score is a second entry; pruning every run that used the
	// first drops it.
	other := JobRow{RunKey: "small.1", JobID: "small", Status: "completed", ScoreSource: []byte("x = 1\n"),
		CreatedAt: time.Now(), FinishedAt: time.Now().Add(time.Hour)}
	applyOps(t, db, &InsertRun{Job: other}, &PruneHistory{Keep: 1})
	var hashes []string
	rows, err := db.read.Query(`SELECT hash FROM scores`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h string
		rows.Scan(&h)
		hashes = append(hashes, h)
	}
	rows.Close()
	if len(hashes) != 1 || hashes[0] != scoreHash(other.ScoreSource) {
		t.Errorf("after pruning the big runs the scores table holds %v, want only the small score's", hashes)
	}
}

func TestMigrationMovesInlineScoreSources(t *testing.T) {
	// v2 stored one copy per run; after the migration two runs of the same
	// score share one entry and no inline copy is left.
	path := filepath.Join(t.TempDir(), "state.db")
	copyFile(t, filepath.Join(frozenDir, "v2.db"), path)
	pre, err := openRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pre.Exec(`INSERT INTO jobs (run_key, job_id, run, status, score_source)
		SELECT 'frozen-job.2', job_id, 2, 'completed', score_source FROM jobs WHERE run_key = 'frozen-job.1'`); err != nil {
		t.Fatal(err)
	}
	pre.Close()

	db := openDB(t, path, discardLog())
	defer db.Close()
	var scores, inline, pointing int
	db.read.QueryRow(`SELECT count(*) FROM scores`).Scan(&scores)
	db.read.QueryRow(`SELECT count(*) FROM jobs WHERE score_source IS NOT NULL`).Scan(&inline)
	db.read.QueryRow(`SELECT count(*) FROM jobs WHERE score_hash != ''`).Scan(&pointing)
	if scores != 1 || inline != 0 || pointing != 2 {
		t.Errorf("after migration: %d score entries, %d inline copies, %d runs pointing at one; want 1, 0, 2",
			scores, inline, pointing)
	}
	run, ok, err := db.LatestRun(context.Background(), "frozen-job")
	if err != nil || !ok || string(run.Job.ScoreSource) != "name = \"frozen\"\n" {
		t.Errorf("LatestRun after migration: source %q ok=%v err=%v", run.Job.ScoreSource, ok, err)
	}
}

// openRaw opens a database file without migrating it.
func openRaw(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+path)
}
