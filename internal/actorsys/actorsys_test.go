package actorsys

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

func quiet() actor.ConfigOption {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log })
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// An idle conductor's actor system costs little heap.
func TestSystemIsSmall(t *testing.T) {
	before := heapAlloc()
	system := New(quiet())
	after := heapAlloc()
	runtime.KeepAlive(system)
	if grew := int64(after) - int64(before); grew > 512<<10 {
		t.Fatalf("a new actor system holds %d KB of heap, want under 512 KB", grew>>10)
	}
}

// Every actor is found again after the registry shrank: those registered at
// creation and hundreds spawned after.
func TestShrunkRegistryFindsEveryActor(t *testing.T) {
	system := New(quiet())
	if len(system.ProcessRegistry.LocalPIDs.LocalPIDs) != registryBuckets {
		t.Fatalf("%d buckets, want %d", len(system.ProcessRegistry.LocalPIDs.LocalPIDs), registryBuckets)
	}
	if _, ok := system.ProcessRegistry.GetLocal("eventstream"); !ok {
		t.Fatal("the event stream registered at creation is lost")
	}
	echo := actor.PropsFromFunc(func(c actor.Context) {
		if s, ok := c.Message().(string); ok {
			c.Respond(s)
		}
	})
	var pids []*actor.PID
	for i := range 500 {
		pid, err := system.Root.SpawnNamed(echo, fmt.Sprintf("echo-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	for i, pid := range pids {
		want := fmt.Sprint(i)
		got, err := system.Root.RequestFuture(pid, want, 10*time.Second).Result()
		if err != nil || got != want {
			t.Fatalf("actor %d answered %v, %v", i, got, err)
		}
	}
	for _, pid := range pids {
		if err := system.Root.StopFuture(pid).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := system.ProcessRegistry.GetLocal("echo-7"); ok {
		t.Fatal("a stopped actor is still registered")
	}
}
