package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

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
	Runs               int64         `json:"runs"`
	Completed          int64         `json:"completed"`
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
		out := struct {
			Schema string           `json:"schema"`
			Stages []stageStatsJSON `json:"stages"`
		}{Schema: schema, Stages: []stageStatsJSON{}}
		for _, s := range in.GetStages() {
			j := stageStatsJSON{Score: s.GetScore(), Stage: s.GetStage(), Instrument: s.GetInstrument(),
				Runs: s.GetRuns(), Completed: s.GetCompleted(), Failed: s.GetFailed(), SuccessRate: s.GetSuccessRate(),
				DurationP50Seconds: s.GetDurationP50Seconds(), DurationP90Seconds: s.GetDurationP90Seconds(),
				PeakRSSP90MB: s.GetPeakRssP90Mb(), CPUSecondsP50: s.GetCpuSecondsP50(), Stalls: s.GetStalls(),
				Failures: []failureJSON{}}
			for _, f := range s.GetFailures() {
				j.Failures = append(j.Failures, failureJSON{Reason: f.GetReason(), Count: f.GetCount()})
			}
			out.Stages = append(out.Stages, j)
		}
		return g.printJSON(out)
	}
	if len(in.GetStages()) == 0 {
		g.printf("no finished sheets in history yet\n")
		return nil
	}
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCORE\tSTAGE\tINSTRUMENT\tRUNS\tOK\tP50\tP90\tPEAK RSS P90\tSTALLS\tTOP FAILURES")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f%%\t%s\t%s\t%s\t%d\t%s\n", s.GetScore(), s.GetStage(), s.GetInstrument(),
			s.GetRuns(), 100*s.GetSuccessRate(), secs(s.GetDurationP50Seconds()), secs(s.GetDurationP90Seconds()),
			rss, s.GetStalls(), oneLine(top, 80))
	}
	return tw.Flush()
}

func secs(s float64) string {
	return shortDuration(time.Duration(s*float64(time.Second)), true)
}
