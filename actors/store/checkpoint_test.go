package store

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// The writer never checkpoints: the checkpoint's fsyncs held up whichever
// write crossed 1,000 WAL pages (a submit, a try's start). The checkpointer
// copies the WAL into the database in the background, soon after writes.
func TestCheckpointsOffTheWriter(t *testing.T) {
	h := newHarness(t)
	var auto int
	if err := h.db.write.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("the writer checkpoints every %d WAL pages; want never (0)", auto)
	}
	var seq int
	var name, path string
	if err := h.db.read.QueryRow("PRAGMA database_list").Scan(&seq, &name, &path); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var ops []Op
	for i := range 20 {
		job := JobRow{RunKey: fmt.Sprintf("c%d.1", i), JobID: fmt.Sprintf("c%d", i), Status: "queued", CreatedAt: time.Now(), SheetsTotal: 1}
		ops = append(ops, &InsertRun{Job: job, Sheets: []SheetRow{{RunKey: job.RunKey, Num: 1, Stage: "s", Voice: 1,
			VoiceCount: 1, Instrument: "shell", Status: "pending"}}})
	}
	h.mustWrite(t, ops...)
	// Far below 1,000 WAL pages: only the checkpointer copies them over.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > before.Size() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state.db still %d bytes 30s after the writes: nothing was checkpointed", fi.Size())
		}
	}
}
