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
