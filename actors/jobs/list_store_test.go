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

// A listing that asks the store for one page (the newest finished jobs
// past the cursor, and how many there are) answers exactly what paging the
// whole history in memory answered: the same jobs with the same counts and
// costs, the same count of older ones and the same next cursor, for every
// limit and on every page.
func TestListPageFromStoreMatchesWholeHistory(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	pid := sys.Root.Spawn(store.Props(db, log))
	defer func() { sys.Root.PoisonFuture(pid).Wait() }()
	r := rand.New(rand.NewPCG(3, 5))
	var active []*messages.JobInfo
	var activeIDs []string
	base := time.Unix(1_790_000_000, 0)
	for i := range 40 {
		id := fmt.Sprintf("job-%02d", r.IntN(1000))
		// Several jobs share a timestamp, so ids break ties.
		at := base.Add(time.Duration(r.IntN(25)) * time.Second)
		runs := 1 + r.IntN(2)
		for run := range runs {
			status := []messages.JobState{messages.JobCompleted, messages.JobFailed, messages.JobCancelled}[r.IntN(3)]
			if run == runs-1 && i%7 == 0 {
				status = messages.JobRunning // the conductor lists it from memory
			}
			key := fmt.Sprintf("%s.%d.%d", id, i, run)
			sheets := make([]store.SheetRow, r.IntN(4))
			for k := range sheets {
				sheets[k] = store.SheetRow{RunKey: key, Num: k + 1, Stage: "s", Voice: k + 1, VoiceCount: len(sheets),
					Instrument: "shell", Status: []messages.SheetState{messages.SheetCompleted, messages.SheetFailed, messages.SheetPending}[r.IntN(3)],
					CostUSD: float64(r.IntN(100)) / 64, CostKnown: r.IntN(2) == 0, InputTokens: int64(r.IntN(900)), TokensKnown: r.IntN(2) == 0}
			}
			sys.Root.Send(pid, &store.Write{Op: &store.InsertRun{Job: store.JobRow{RunKey: key, JobID: id, Name: id,
				Status: status, CreatedAt: at, FinishedAt: at.Add(time.Minute), SheetsTotal: len(sheets)}, Sheets: sheets}})
			if status == messages.JobRunning {
				active = append(active, &messages.JobInfo{Id: id, Status: string(status), CreatedAtUnixNano: at.UnixNano()})
				activeIDs = append(activeIDs, id)
			}
		}
	}
	// Writes are applied in order: once a last one is done, every run is stored.
	flush := actor.NewFuture(sys, 60*time.Second)
	sys.Root.Send(pid, &store.Write{Op: &store.PruneHistory{Keep: 1000}, ReplyTo: flush.PID()})
	if res, err := flush.Result(); err != nil || res.(*store.WriteDone).Err != nil {
		t.Fatalf("store the history: %v %v", err, res)
	}
	query := func(fn func(ctx context.Context, db *store.DB) (any, error)) any {
		v, err := fn(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// The whole history, summed over every sheet as listing did before.
	exclude := map[string]bool{}
	for _, id := range activeIDs {
		exclude[id] = true
	}
	whole := query(func(ctx context.Context, db *store.DB) (any, error) {
		rows, counts, usage, err := db.FinishedJobsUsage(ctx, exclude)
		out := make([]*messages.JobInfo, 0, len(rows))
		for _, row := range rows {
			info := jobInfo(row, nil)
			c := counts[row.RunKey]
			info.SheetsCompleted, info.SheetsFailed = int64(c[messages.SheetCompleted]), int64(c[messages.SheetFailed])
			setUsage(info, usage[row.RunKey])
			out = append(out, info)
		}
		return out, err
	}).([]*messages.JobInfo)
	if len(whole) < 15 {
		t.Fatalf("only %d finished jobs: the history is too small to page", len(whole))
	}
	for limit := range uint32(len(whole) + len(active) + 2) {
		cursor, pages := "", 0
		for {
			m := &messages.ListJobsRequest{All: true, Limit: limit, Cursor: cursor}
			want := listPage(clone(active), clone(whole), len(whole), m).(*messages.JobList)
			q, err := finishedQuery(m, activeIDs)
			if err != nil {
				t.Fatal(err)
			}
			got := query(func(ctx context.Context, db *store.DB) (any, error) {
				rows, total, err := db.FinishedPage(ctx, q)
				out := make([]*messages.JobInfo, len(rows))
				for i, row := range rows {
					out[i] = jobHeader(row.Job)
					out[i].SheetsCompleted, out[i].SheetsFailed = int64(row.Completed), int64(row.Failed)
					setUsage(out[i], row.Usage)
				}
				return listPage(clone(active), out, total, m), err
			}).(*messages.JobList)
			if !proto.Equal(got, want) {
				t.Fatalf("limit %d cursor %q: got %v\nwant %v", limit, cursor, got, want)
			}
			pages++
			if cursor = got.GetNextCursor(); cursor == "" || limit == 0 {
				break
			}
			if pages > len(whole)+len(active) {
				t.Fatalf("limit %d: cursors do not end", limit)
			}
		}
	}
}

func clone(jobs []*messages.JobInfo) []*messages.JobInfo {
	out := make([]*messages.JobInfo, len(jobs))
	for i, j := range jobs {
		out[i] = proto.Clone(j).(*messages.JobInfo)
	}
	return out
}
