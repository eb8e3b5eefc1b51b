package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the text views")

// golden compares a text view with testdata/golden/NAME (go test -update
// rewrites them).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

const t0 = int64(1_800_000_000_000_000_000)

// costFixture is a finished job of claude, codex and shell sheets.
func costFixture() *messages.JobStatus {
	sec := int64(1_000_000_000)
	return &messages.JobStatus{
		Job: &messages.JobInfo{Id: "review", Name: "Parallel review", Status: "completed", SheetsTotal: 4, SheetsCompleted: 4,
			StartedAtUnixNano: t0, FinishedAtUnixNano: t0 + 95*sec, Workspace: "/ws/review",
			CostUsd: 1.0042, HasCost: true, InputTokens: 4500, OutputTokens: 1000, HasTokens: true, MaxCostUsd: 5},
		Sheets: []*messages.SheetInfo{
			{Num: 1, Stage: "draft", Voice: 1, VoiceCount: 2, Status: "completed", Attempts: 2, Instrument: "claude-code",
				StartedAtUnixNano: t0, DurationSeconds: 40, CostUsd: 0.5, HasCost: true, InputTokens: 2000, OutputTokens: 400, HasTokens: true},
			{Num: 2, Stage: "draft", Voice: 2, VoiceCount: 2, Status: "completed", Attempts: 1, Instrument: "claude-code",
				StartedAtUnixNano: t0, DurationSeconds: 30, CostUsd: 0.5042, HasCost: true, InputTokens: 2000, OutputTokens: 500, HasTokens: true},
			{Num: 3, Stage: "review", Voice: 1, VoiceCount: 1, Status: "completed", Attempts: 1, Instrument: "codex",
				StartedAtUnixNano: t0, DurationSeconds: 20, InputTokens: 500, OutputTokens: 100, HasTokens: true},
			{Num: 4, Stage: "check", Voice: 1, VoiceCount: 1, Status: "completed", Attempts: 1, Instrument: "shell",
				StartedAtUnixNano: t0, DurationSeconds: 1},
		},
	}
}

func TestGoldenStatus(t *testing.T) {
	var b strings.Builder
	writeJobDetail(&b, costFixture())
	golden(t, "status.txt", b.String())
}

func TestGoldenList(t *testing.T) {
	plain := &messages.JobInfo{Id: "hello", Status: "failed", SheetsTotal: 2, SheetsCompleted: 1, SheetsFailed: 1,
		StartedAtUnixNano: t0, FinishedAtUnixNano: t0 + 3_000_000_000}
	var b strings.Builder
	writeJobTable(&b, []*messages.JobInfo{costFixture().Job, plain})
	golden(t, "list.txt", b.String())
}

func TestGoldenInsights(t *testing.T) {
	in := &messages.Insights{
		Scores: []*messages.ScoreSummary{{Score: "review@0123456789ab", Runs: 3, CompletedRuns: 2, Tries: 14,
			TrySuccessRate: 0.857, DurationP50Seconds: 95, DurationP90Seconds: 140, HasCost: true, CostP50Usd: 1.0, CostP90Usd: 1.6}},
		Stages: []*messages.StageStats{
			{Score: "review@0123456789ab", Stage: "draft", Instrument: "claude-code", Runs: 8, Completed: 6, Failed: 2, SuccessRate: 0.75,
				JobRuns: 3, RunSuccessRate: 0.667, DurationP50Seconds: 35, DurationP90Seconds: 60, HasCost: true,
				CostPerSheetP50Usd: 0.3, CostPerSheetP90Usd: 0.55, Failures: []*messages.FailureCount{{Reason: "exit code 1", Count: 2}}},
			{Score: "review@0123456789ab", Stage: "check", Instrument: "shell", Runs: 3, Completed: 3, SuccessRate: 1,
				JobRuns: 3, RunSuccessRate: 1, DurationP50Seconds: 1, DurationP90Seconds: 1},
		},
	}
	var b strings.Builder
	g := &Globals{}
	g.env.Stdout = &b
	if err := writeInsights(g, in); err != nil {
		t.Fatal(err)
	}
	golden(t, "insights.txt", b.String())
}
