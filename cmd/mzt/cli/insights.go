package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/messages"
)

// InsightsCmd is `mzt insights`.
type InsightsCmd struct {
	Score string `arg:"" optional:"" help:"A score's job id or name (default: every score)."`
	JSON  bool   `name:"json" help:"Print JSON."`
}

type failureJSON struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

type stageStatsJSON struct {
	Score              string        `json:"score"`
	Stage              string        `json:"stage"`
	Instrument         string        `json:"instrument"`
	ScoreID            string        `json:"score_id"` // name@stage-hash: every job id running this score
	Runs               int64         `json:"runs"`     // job runs that ran the stage
	RunSuccessRate     float64       `json:"run_success_rate"`
	Tries              int64         `json:"tries"`
	CostPerSheetP50USD *float64      `json:"cost_per_sheet_p50_usd"` // null: no cost reported
	CostPerSheetP90USD *float64      `json:"cost_per_sheet_p90_usd"`
	Completed          int64         `json:"completed"` // tries
	Failed             int64         `json:"failed"`
	SuccessRate        float64       `json:"success_rate"`
	DurationP50Seconds float64       `json:"duration_p50_seconds"`
	DurationP90Seconds float64       `json:"duration_p90_seconds"`
	PeakRSSP90MB       float64       `json:"peak_rss_p90_mb"`
	CPUSecondsP50      float64       `json:"cpu_seconds_p50"`
	Stalls             int64         `json:"stalls"`
	Failures           []failureJSON `json:"failures"`
}

func (c *InsightsCmd) Run(g *Globals) error {
	in, err := call[*messages.Insights](g, g.ctx, &messages.InsightsRequest{Score: c.Score})
	if err != nil {
		return err
	}
	if c.JSON {
		return g.printJSON(insightsJSON(in))
	}
	return writeInsights(g, in)
}

// writeInsights prints the score summaries, then a row per stage.
func writeInsights(g *Globals, in *messages.Insights) error {
	if len(in.GetStages()) == 0 {
		g.printf("no finished sheets in history yet\n")
		return nil
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORE\tRUNS\tOK\tTRIES\tOK\tP50\tP90\tCOST P50\tCOST P90")
	for _, s := range in.GetScores() {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.0f%%\t%s\t%s\t%s\t%s\n", score.IdentityName(s.GetScore()), s.GetRuns(),
			percent(s.GetCompletedRuns(), s.GetRuns()), s.GetTries(), 100*s.GetTrySuccessRate(),
			secs(s.GetDurationP50Seconds()), secs(s.GetDurationP90Seconds()),
			usd(s.GetCostP50Usd(), s.GetHasCost()), usd(s.GetCostP90Usd(), s.GetHasCost()))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SCORE\tSTAGE\tINSTRUMENT\tRUNS\tOK\tTRIES\tOK\tP50\tP90\tSHEET COST P50\tP90\tPEAK RSS P90\tSTALLS\tTOP FAILURES")
	for _, s := range in.GetStages() {
		var fails []string
		for _, f := range s.GetFailures() {
			fails = append(fails, fmt.Sprintf("%s (%d)", f.GetReason(), f.GetCount()))
		}
		top := strings.Join(fails, ", ")
		if top == "" {
			top = "-"
		}
		rss := "-"
		if s.GetPeakRssP90Mb() > 0 {
			rss = megabytes(s.GetPeakRssP90Mb())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f%%\t%d\t%.0f%%\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", score.IdentityName(s.GetScore()),
			s.GetStage(), s.GetInstrument(), s.GetJobRuns(), 100*s.GetRunSuccessRate(), s.GetRuns(), 100*s.GetSuccessRate(),
			secs(s.GetDurationP50Seconds()), secs(s.GetDurationP90Seconds()),
			usd(s.GetCostPerSheetP50Usd(), s.GetHasCost()), usd(s.GetCostPerSheetP90Usd(), s.GetHasCost()),
			rss, s.GetStalls(), oneLine(top, 80))
	}
	tw.Flush()
	g.printf("%s", newTextStyles(g.env.Stdout).paint(b.String()))
	return nil
}

func percent(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
}

func secs(s float64) string {
	return shortDuration(time.Duration(s*float64(time.Second)), true)
}

type scoreSummaryJSON struct {
	Score              string   `json:"score"`
	ScoreID            string   `json:"score_id"`
	Runs               int64    `json:"runs"`
	CompletedRuns      int64    `json:"completed_runs"`
	Tries              int64    `json:"tries"`
	TrySuccessRate     float64  `json:"try_success_rate"`
	DurationP50Seconds float64  `json:"duration_p50_seconds"`
	DurationP90Seconds float64  `json:"duration_p90_seconds"`
	CostP50USD         *float64 `json:"cost_p50_usd"` // a run; null: no cost reported
	CostP90USD         *float64 `json:"cost_p90_usd"`
}

func insightsJSON(in *messages.Insights) any {
	out := struct {
		Schema string             `json:"schema"`
		Scores []scoreSummaryJSON `json:"scores"`
		Stages []stageStatsJSON   `json:"stages"`
	}{Schema: schema, Scores: []scoreSummaryJSON{}, Stages: []stageStatsJSON{}}
	for _, s := range in.GetScores() {
		out.Scores = append(out.Scores, scoreSummaryJSON{Score: score.IdentityName(s.GetScore()), ScoreID: s.GetScore(),
			Runs: s.GetRuns(), CompletedRuns: s.GetCompletedRuns(), Tries: s.GetTries(), TrySuccessRate: s.GetTrySuccessRate(),
			DurationP50Seconds: round1(s.GetDurationP50Seconds()), DurationP90Seconds: round1(s.GetDurationP90Seconds()),
			CostP50USD: costJSON(s.GetCostP50Usd(), s.GetHasCost()), CostP90USD: costJSON(s.GetCostP90Usd(), s.GetHasCost())})
	}
	for _, s := range in.GetStages() {
		j := stageStatsJSON{Score: score.IdentityName(s.GetScore()), ScoreID: s.GetScore(), Stage: s.GetStage(),
			Instrument: s.GetInstrument(), Runs: s.GetJobRuns(), RunSuccessRate: s.GetRunSuccessRate(), Tries: s.GetRuns(),
			Completed: s.GetCompleted(), Failed: s.GetFailed(), SuccessRate: s.GetSuccessRate(),
			DurationP50Seconds: s.GetDurationP50Seconds(), DurationP90Seconds: s.GetDurationP90Seconds(),
			PeakRSSP90MB: s.GetPeakRssP90Mb(), CPUSecondsP50: s.GetCpuSecondsP50(), Stalls: s.GetStalls(),
			CostPerSheetP50USD: costJSON(s.GetCostPerSheetP50Usd(), s.GetHasCost()),
			CostPerSheetP90USD: costJSON(s.GetCostPerSheetP90Usd(), s.GetHasCost()), Failures: []failureJSON{}}
		for _, f := range s.GetFailures() {
			j.Failures = append(j.Failures, failureJSON{Reason: f.GetReason(), Count: f.GetCount()})
		}
		out.Stages = append(out.Stages, j)
	}
	return out
}
