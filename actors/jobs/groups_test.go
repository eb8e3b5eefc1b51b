package jobs

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// Groups persist across a restart: a group request that reaches a manager
// still reading them from the store is answered once they are read, never
// from an empty table.
func TestGroupRequestsWaitForTheStoredGroups(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(filepath.Join(dir, "state.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	storePID := system.Root.Spawn(store.Props(db, log))
	t.Cleanup(func() { system.Root.StopFuture(storePID).Wait() })
	f := actor.NewFuture(system, 30*time.Second)
	system.Root.Send(storePID, &store.Write{Op: &store.SaveGroup{Group: store.Group{Name: "serial", Parallel: 1}}, ReplyTo: f.PID()})
	if res, err := f.Result(); err != nil || res.(*store.WriteDone).Err != nil {
		t.Fatalf("store the group: %v %v", res, err)
	}
	paths, err := config.ResolveIn(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // a fresh manager each time: the race is at its start
		mgr := system.Root.Spawn(Props(Deps{Config: config.Defaults(), Paths: paths, Store: storePID, DB: db, Log: log,
			Recovered: []Prepared{}, runner: instant}))
		res, err := system.Root.RequestFuture(mgr, &messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_LIST},
			30*time.Second).Result()
		system.Root.StopFuture(mgr).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if gs := res.(*messages.GroupList).GetGroups(); len(gs) != 1 || gs[0].GetName() != "serial" {
			t.Fatalf("start %d: groups %v, want serial", i, gs)
		}
	}
}
