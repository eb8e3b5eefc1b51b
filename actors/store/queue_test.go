package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// A run's queue controls and the groups survive a reopen of the database.
func TestQueueControlsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openDB(t, path, discardLog())
	job := JobRow{RunKey: "b.1", JobID: "b", Name: "b", Status: messages.JobQueued, CreatedAt: time.Now(),
		Priority: 7, Group: "gpu", After: []string{"a", "c"}, AfterAny: true}
	done := JobRow{RunKey: "a.1", JobID: "a", Name: "a", Status: messages.JobFailed, CreatedAt: time.Now()}
	applyOps(t, db, &InsertRun{Job: job}, &InsertRun{Job: done},
		&SaveGroup{Group: Group{Name: "gpu", Parallel: 2}}, &SaveGroup{Group: Group{Name: "gpu", Parallel: 1}},
		&SaveGroup{Group: Group{Name: "io", Parallel: 3}}, &DeleteGroup{Name: "io"})
	db.Close()

	db = openDB(t, path, discardLog())
	defer db.Close()
	ctx := context.Background()
	run, ok, err := db.LatestRun(ctx, "b")
	if err != nil || !ok {
		t.Fatalf("LatestRun(b) = %v, %v", ok, err)
	}
	got := run.Job
	if got.Priority != 7 || got.Group != "gpu" || !reflect.DeepEqual(got.After, []string{"a", "c"}) || !got.AfterAny {
		t.Errorf("read back priority %d group %q after %v any %v", got.Priority, got.Group, got.After, got.AfterAny)
	}
	groups, err := db.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Group{{Name: "gpu", Parallel: 1}}; !reflect.DeepEqual(groups, want) {
		t.Errorf("groups = %v, want %v", groups, want)
	}
	states, err := db.JobStates(ctx, []string{"a", "b", "nosuch"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]messages.JobState{"a": messages.JobFailed, "b": messages.JobQueued}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("JobStates = %v, want %v", states, want)
	}
}

// Hooks events make due are bounded; hooks are read back oldest first and
// leave the due list once done.
func TestQueueHooksBounded(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "state.db"), discardLog())
	defer db.Close()
	row := HookRow{JobID: "j", Event: "stall", Run: "true", Env: map[string]string{"MZT_EVENT": "stall"},
		Timeout: time.Second, Created: time.Now()}
	burst := make([]HookRow, MaxDueHooks)
	for i := range burst {
		burst[i] = row
	}
	applyOps(t, db, &QueueHooks{Hooks: burst})
	over := &QueueHooks{Hooks: []HookRow{row}}
	applyOps(t, db, over)
	if over.Dropped != 1 {
		t.Errorf("dropped %d beyond the bound, want 1", over.Dropped)
	}
	due, err := db.DueHooks(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 5 || due[0].ID >= due[1].ID || due[0].Env["MZT_EVENT"] != "stall" || due[0].Timeout != time.Second {
		t.Fatalf("due = %+v", due)
	}
	applyOps(t, db, &HookDone{ID: due[0].ID, Err: "boom"})
	again, err := db.DueHooks(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].ID != due[1].ID {
		t.Errorf("after done, first due is %d, want %d", again[0].ID, due[1].ID)
	}
}
