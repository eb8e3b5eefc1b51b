package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// A brief status read from the store (the sheets that need a look, the
// rest counted in SQL, the job's counts from its tallies) is exactly the
// whole status cut by messages.Brief, for runs around the brief's limit.
func TestBriefStatusFromStoreMatchesWholeStatusCut(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	pid := sys.Root.Spawn(store.Props(db, log))
	defer func() { sys.Root.PoisonFuture(pid).Wait() }()
	r := rand.New(rand.NewPCG(9, 4))
	statuses := []messages.SheetState{messages.SheetCompleted, messages.SheetCompleted, messages.SheetCompleted,
		messages.SheetPending, messages.SheetSkipped, messages.SheetFailed, messages.SheetRunning, messages.SheetWaiting}
	sizes := []int{5, messages.BriefSheets, messages.BriefSheets + 1, 300}
	at := time.Unix(1_790_000_000, 0)
	for i, n := range sizes {
		id := fmt.Sprintf("job-%d", i)
		key := id + ".1"
		sheets := make([]store.SheetRow, n)
		for k := range sheets {
			s := store.SheetRow{RunKey: key, Num: k + 1, Stage: "s", Voice: k + 1, VoiceCount: n, Instrument: "shell",
				Status: statuses[r.IntN(len(statuses))], Attempts: 1, CostUSD: float64(r.IntN(50)) / 8, CostKnown: r.IntN(3) == 0,
				InputTokens: int64(r.IntN(100)), TokensKnown: r.IntN(2) == 0, StartedAt: at, FinishedAt: at.Add(time.Second)}
			switch r.IntN(12) {
			case 0:
				s.Profile.Stalled = true
			case 1:
				s.Notes = []string{"anomaly: rss x3"}
			}
			sheets[k] = s
		}
		sys.Root.Send(pid, &store.Write{Op: &store.InsertRun{Job: store.JobRow{RunKey: key, JobID: id, Name: id,
			Status: messages.JobRunning, CreatedAt: at, SheetsTotal: n}, Sheets: sheets}})
	}
	flush := actor.NewFuture(sys, 30*time.Second)
	sys.Root.Send(pid, &store.Write{Op: &store.PruneHistory{Keep: 1000}, ReplyTo: flush.PID()})
	if res, err := flush.Result(); err != nil || res.(*store.WriteDone).Err != nil {
		t.Fatalf("store the runs: %v %v", err, res)
	}
	ctx := context.Background()
	for i, n := range sizes {
		id := fmt.Sprintf("job-%d", i)
		run, ok, err := db.StatusRun(ctx, id)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		want := messages.Brief(&messages.JobStatus{Job: jobInfo(run.Job, run.Sheets), Sheets: sheetInfos(run.Sheets)})
		br, ok, err := db.StatusRunBrief(ctx, id, messages.BriefSheets)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		got := briefStatus(br)
		if !proto.Equal(got, want) {
			t.Fatalf("%d sheets: brief from the store\n%v\nwant\n%v", n, got, want)
		}
		if n > messages.BriefSheets && len(got.GetSheets()) >= n/2 {
			t.Fatalf("%d sheets: the brief status lists %d", n, len(got.GetSheets()))
		}
	}
	if _, ok, err := db.StatusRunBrief(ctx, "nope", messages.BriefSheets); ok || err != nil {
		t.Fatalf("an unknown job: ok=%v err=%v", ok, err)
	}
}
