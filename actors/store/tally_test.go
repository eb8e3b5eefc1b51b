package store

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// tallies is a run's sheet tallies, as stored or as counted.
type tallies struct {
	completed, failed, costReports, tokenReports int
	cost                                         float64
	in, out                                      int64
}

func (a tallies) equal(b tallies) bool {
	return a.completed == b.completed && a.failed == b.failed && a.costReports == b.costReports &&
		a.tokenReports == b.tokenReports && a.in == b.in && a.out == b.out && math.Abs(a.cost-b.cost) < 1e-9
}

// checkTallies compares every run's stored tallies with a count over its sheets.
func checkTallies(t *testing.T, db *DB, when string) {
	t.Helper()
	rows, err := db.read.Query(`SELECT j.run_key, t.completed, t.failed, t.cost_usd, t.cost_reports,
		t.input_tokens, t.output_tokens, t.token_reports,
		(SELECT count(*) FROM sheets s WHERE s.run_key = j.run_key AND s.status = 'completed'),
		(SELECT count(*) FROM sheets s WHERE s.run_key = j.run_key AND s.status = 'failed'),
		(SELECT coalesce(sum(cost_usd), 0) FROM sheets s WHERE s.run_key = j.run_key AND s.cost_known),
		(SELECT count(*) FROM sheets s WHERE s.run_key = j.run_key AND s.cost_known),
		(SELECT coalesce(sum(input_tokens), 0) FROM sheets s WHERE s.run_key = j.run_key AND s.tokens_known),
		(SELECT coalesce(sum(output_tokens), 0) FROM sheets s WHERE s.run_key = j.run_key AND s.tokens_known),
		(SELECT count(*) FROM sheets s WHERE s.run_key = j.run_key AND s.tokens_known)
		FROM jobs j JOIN run_tallies t ON t.run_key = j.run_key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var got, want tallies
		if err := rows.Scan(&key, &got.completed, &got.failed, &got.cost, &got.costReports, &got.in, &got.out, &got.tokenReports,
			&want.completed, &want.failed, &want.cost, &want.costReports, &want.in, &want.out, &want.tokenReports); err != nil {
			t.Fatal(err)
		}
		if !got.equal(want) {
			t.Fatalf("%s: run %s tallies %+v, its sheets count %+v", when, key, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// Whatever writes a sheet (a new run, an upsert replacing it, an UPDATE, a
// DELETE, a run deleted with its sheets), a run's tallies stay equal to a
// count over its sheets.
func TestTalliesFollowSheets(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "state.db"), discardLog())
	defer db.Close()
	r := rand.New(rand.NewPCG(7, 11))
	statuses := []string{"pending", "running", "completed", "failed", "skipped"}
	sheet := func(key string, num int) SheetRow {
		return SheetRow{RunKey: key, Num: num, Stage: "s", Voice: num, VoiceCount: 8, Instrument: "shell",
			Status: statusOf(statuses[r.IntN(len(statuses))]), CostUSD: float64(r.IntN(1000)) / 997,
			CostKnown: r.IntN(2) == 0, InputTokens: int64(r.IntN(5000)), OutputTokens: int64(r.IntN(900)), TokensKnown: r.IntN(3) > 0}
	}
	var keys []string
	ctx := context.Background()
	for step := range 150 {
		var what string
		switch op := r.IntN(10); {
		case op == 0 || len(keys) == 0:
			id := fmt.Sprintf("job-%d", step)
			job := JobRow{RunKey: id + ".1", JobID: id, Status: "running", CreatedAt: time.Unix(int64(step), 0), SheetsTotal: 8}
			sheets := make([]SheetRow, 1+r.IntN(8))
			for i := range sheets {
				sheets[i] = sheet(job.RunKey, i+1)
			}
			applyOps(t, db, &InsertRun{Job: job, Sheets: sheets})
			keys = append(keys, job.RunKey)
			what = "insert run " + job.RunKey
		case op <= 5: // the job actor's upsert, one or several sheets at once
			key := keys[r.IntN(len(keys))]
			var sheets []SheetRow
			for range 1 + r.IntN(3) {
				sheets = append(sheets, sheet(key, 1+r.IntN(8)))
			}
			applyOps(t, db, &SaveSheets{Sheets: sheets})
			what = "upsert sheets of " + key
		case op == 6:
			s := sheet(keys[r.IntN(len(keys))], 1+r.IntN(8))
			if _, err := db.write.ExecContext(ctx, `UPDATE sheets SET status = ?, cost_usd = ?, cost_known = ?, tokens_known = ?
				WHERE run_key = ? AND num = ?`, s.Status, s.CostUSD, b2i(s.CostKnown), b2i(s.TokensKnown), s.RunKey, s.Num); err != nil {
				t.Fatal(err)
			}
			what = "update a sheet"
		case op == 7:
			if _, err := db.write.ExecContext(ctx, `UPDATE sheets SET status = 'completed' WHERE run_key = ?`, keys[r.IntN(len(keys))]); err != nil {
				t.Fatal(err)
			}
			what = "update every sheet of a run"
		case op == 8:
			if _, err := db.write.ExecContext(ctx, `DELETE FROM sheets WHERE run_key = ? AND num = ?`,
				keys[r.IntN(len(keys))], 1+r.IntN(8)); err != nil {
				t.Fatal(err)
			}
			what = "delete a sheet"
		default:
			i := r.IntN(len(keys))
			if _, err := db.write.ExecContext(ctx, `UPDATE jobs SET status = 'completed' WHERE run_key = ?`, keys[i]); err != nil {
				t.Fatal(err)
			}
			applyOps(t, db, &DeleteRuns{RunKeys: []string{keys[i]}})
			keys = append(keys[:i], keys[i+1:]...)
			what = "delete a run"
		}
		checkTallies(t, db, fmt.Sprintf("step %d (%s)", step, what))
	}
}

func statusOf(s string) messages.SheetState { return messages.SheetState(s) }

// A database from before the tallies gets them counted from its sheets.
func TestTallyMigrationCountsStoredSheets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	copyFile(t, filepath.Join(frozenDir, "v6.db"), path)
	db := openDB(t, path, discardLog())
	defer db.Close()
	var completed int
	if err := db.read.QueryRow(`SELECT completed FROM run_tallies WHERE run_key = 'frozen-job.1'`).Scan(&completed); err != nil {
		t.Fatal(err)
	}
	if completed == 0 {
		t.Fatal("the frozen run's completed sheet was not counted")
	}
	checkTallies(t, db, "after migration")
}
