package gateway

import (
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The exposition keeps its names, labels and meanings: gauges from the
// snapshot of the scrape, counters and the try histogram from events.
func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	t0 := time.Unix(1_800_000_000, 0)
	ev := func(kind, status string, sheet int64, at time.Duration) *messages.Event {
		return &messages.Event{Kind: kind, Status: status, JobId: "j", Sheet: sheet, TimeUnixNano: t0.Add(at).UnixNano()}
	}
	for _, e := range []*messages.Event{
		ev("job.status", "running", 0, 0),
		ev("sheet.status", "running", 1, 0), ev("sheet.status", "completed", 1, 3*time.Second),
		ev("sheet.status", "running", 2, 0), ev("sheet.status", "failed", 2, 100*time.Second),
		ev("sheet.status", "completed", 3, time.Second), // never seen running: no duration
		ev("pressure", "high", 0, 0), ev("anomaly", "memory", 1, 0), ev("anomaly", "cpu", 1, 0),
		ev("job.status", "completed", 0, 0),
	} {
		m.Observe(e)
	}
	snap := &messages.TopSnapshot{
		Conductor: &messages.ConductorStatus{Pressure: "medium", MemoryLimitMb: 8192, AcceptingWork: true, RunningSheets: 1},
		Jobs:      []*messages.JobInfo{{Status: "running"}, {Status: "running"}},
		Sheets:    []*messages.RunningSheet{{Sheet: &messages.SheetInfo{Stalled: true}}},
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.gatherer(snap), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`mzt_up 1`, `mzt_pressure_level 2`, `mzt_memory_limit_mb 8192`, `mzt_accepting_work 1`, `mzt_sheets_running 1`,
		`mzt_jobs{status="running"} 2`, `mzt_jobs{status="queued"} 0`, `mzt_jobs{status="paused"} 0`, `mzt_sheets_stalled 1`,
		`mzt_job_transitions_total{status="completed"} 1`, `mzt_job_transitions_total{status="running"} 1`,
		`mzt_sheet_transitions_total{status="completed"} 2`, `mzt_sheet_transitions_total{status="running"} 2`,
		`mzt_pressure_changes_total{level="high"} 1`, `mzt_anomalies_total 2`,
		`# TYPE mzt_try_duration_seconds histogram`,
		`mzt_try_duration_seconds_count{status="completed"} 1`, `mzt_try_duration_seconds_sum{status="completed"} 3`,
		`mzt_try_duration_seconds_bucket{status="completed",le="5"} 1`, `mzt_try_duration_seconds_bucket{status="completed",le="1"} 0`,
		`mzt_try_duration_seconds_bucket{status="failed",le="120"} 1`, `mzt_try_duration_seconds_bucket{status="failed",le="+Inf"} 1`,
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(body) {
			t.Errorf("no line %q in\n%s", want, body)
		}
	}
}
