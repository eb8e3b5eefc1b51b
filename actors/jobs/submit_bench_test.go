package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// oneSheet is the smallest job a queue runs: one shell sheet.
const oneSheet = "[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"s\"\nprompt = \"true\"\n"

// startSignal is a runner whose attempts succeed at once and report, by
// job id, that their process would have started.
func startSignal(started chan<- string) attemptRunner {
	return func(ctx context.Context, plan attemptPlan, s func(sheetrun.Proc), done func(*attemptDone)) {
		id, _, _ := strings.Cut(plan.token, ".")
		started <- id
		instant(ctx, plan, s, done)
	}
}

// BenchmarkSubmitToStart is the conductor's side of one `mzt run` of a
// one-sheet job: submitted (durable), admitted, granted a slot, its try
// recorded and started, with a real store. Jobs finish at once in the
// background, as in a queue of short jobs; 2 slots, as the queue bench.
// submit-ns is the part the submitter waits for.
func BenchmarkSubmitToStart(b *testing.B) {
	cfg := config.Defaults()
	cfg.MaxConcurrentJobs, cfg.MaxConcurrentSheets = 2, 2
	started := make(chan string, 16)
	e := newEngine(b, cfg, startSignal(started))
	path := filepath.Join(e.dir, "one.toml")
	if err := os.WriteFile(path, []byte(oneSheet), 0o644); err != nil {
		b.Fatal(err)
	}
	var submitting time.Duration
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("q%06d", i)
		i++
		t0 := time.Now()
		e.ask(b, &messages.SubmitJobRequest{ScorePath: path, ScoreSource: []byte(oneSheet), JobId: id})
		submitting += time.Since(t0)
		select {
		case got := <-started:
			if got != id {
				b.Fatalf("started %s, want %s", got, id)
			}
		case <-time.After(30 * time.Second):
			b.Fatalf("job %s did not start within 30s", id)
		}
	}
	b.ReportMetric(float64(submitting.Nanoseconds())/float64(b.N), "submit-ns")
}
