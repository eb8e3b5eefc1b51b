package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// The ETA and the profiler's figures in `mzt status` (text and JSON), which
// share their helpers with `mzt top`.

func statusFixture() *messages.JobStatus {
	start := time.Now().Add(-90 * time.Second).UnixNano()
	return &messages.JobStatus{
		Job: &messages.JobInfo{Id: "review", Status: "running", SheetsTotal: 3, SheetsCompleted: 1, SheetsStalled: 1,
			StartedAtUnixNano: start, Workspace: "/ws", HasEta: true, EtaSeconds: 250, EtaLowSeconds: 180, EtaHighSeconds: 360},
		Sheets: []*messages.SheetInfo{
			{Num: 1, Stage: "draft", Status: "completed", Attempts: 1, Instrument: "shell", StartedAtUnixNano: start,
				DurationSeconds: 12, PeakRssMb: 150, CpuSeconds: 3.25, MeanCpuPercent: 27.1},
			{Num: 2, Stage: "merge", Status: "running", Attempts: 1, Instrument: "shell", StartedAtUnixNano: start,
				Stalled: true, Notes: []string{"no CPU and no output for 5m", "RSS grew 3x in 1m"}},
			{Num: 3, Stage: "check", Status: "pending", Instrument: "shell"},
		},
	}
}

func TestStatusShowsETAAndProfile(t *testing.T) {
	var b strings.Builder
	writeJobDetail(&b, statusFixture())
	out := b.String()
	for _, want := range []string{
		`(?m)^job review · running · 1/3 sheets completed · elapsed 1m 3\ds · ETA ~4m10s \(3m-6m\) · cost \?$`,
		`(?m)^SHEET +STAGE +VOICE +STATUS +ATTEMPTS +DURATION +INSTRUMENT +COST +TOKENS +PEAK RSS +CPU TIME +LAST ERROR$`,
		`(?m)^1 +draft +- +completed +1 +12s +shell +\? +\? +150 MB +3\.2s`,
		`(?m)^2 +merge +- +running +2 +0s +shell +\? +\? +- +-`, // one attempt used, the second runs
		`(?m)^  sheet 2: STALLED · no CPU and no output for 5m\n  sheet 2: RSS grew 3x in 1m$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	// No estimate yet, nothing measured: "ETA unknown", the columns of
	// before, no notes.
	st := statusFixture()
	st.Job.HasEta = false
	for _, s := range st.Sheets {
		s.PeakRssMb, s.CpuSeconds, s.Stalled, s.Notes = 0, 0, false, nil
	}
	b.Reset()
	writeJobDetail(&b, st)
	out = b.String()
	if !strings.Contains(out, "· ETA unknown · cost ?\n") || strings.Contains(out, "PEAK RSS") || strings.Contains(out, "sheet 2:") {
		t.Errorf("status without an estimate or a profile:\n%s", out)
	}
	// A finished job has no ETA at all.
	st.Job.Status = "completed"
	b.Reset()
	writeJobDetail(&b, st)
	if strings.Contains(b.String(), "ETA") {
		t.Errorf("a finished job shows an ETA:\n%s", b.String())
	}

	// The job table has an ETA column.
	b.Reset()
	writeJobTable(&b, []*messages.JobInfo{statusFixture().Job, {Id: "other", Status: "queued", Name: "Other"}})
	for _, want := range []string{`(?m)^ID +STATUS +SHEETS +ELAPSED +ETA +COST +TOKENS +NAME$`, `(?m)^review +running +1/3 +1m 3\ds +~4m \(3m-6m\) +\? +\? *$`,
		`(?m)^other +queued +0/0 +0s +- +\? +\? +Other$`} {
		if !regexp.MustCompile(want).MatchString(b.String()) {
			t.Errorf("job table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestStatusJSONETAAndProfile(t *testing.T) {
	decode := func(st *messages.JobStatus) map[string]any {
		data, err := json.Marshal(jobStatusJSON(st))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := decode(statusFixture())
	if v["eta_seconds"] != 250.0 || v["eta_low_seconds"] != 180.0 || v["eta_high_seconds"] != 360.0 || v["sheets_stalled"] != 1.0 {
		t.Errorf("eta fields: %v %v %v, stalled %v", v["eta_seconds"], v["eta_low_seconds"], v["eta_high_seconds"], v["sheets_stalled"])
	}
	sheets := v["sheets"].([]any)
	s1, s2 := sheets[0].(map[string]any), sheets[1].(map[string]any)
	if s1["peak_rss_mb"] != 150.0 || s1["cpu_seconds"] != 3.25 || s1["mean_cpu_percent"] != 27.1 || s1["stalled"] != false {
		t.Errorf("sheet 1 profile: %v", s1)
	}
	if notes, _ := s1["notes"].([]any); notes == nil || len(notes) != 0 {
		t.Errorf("sheet 1 notes = %#v, want []", s1["notes"])
	}
	if s2["peak_rss_mb"] != nil || s2["cpu_seconds"] != nil || s2["mean_cpu_percent"] != nil || s2["stalled"] != true {
		t.Errorf("sheet 2 profile: %v", s2)
	}
	if notes := s2["notes"].([]any); len(notes) != 2 || notes[1] != "RSS grew 3x in 1m" {
		t.Errorf("sheet 2 notes = %v", notes)
	}

	st := statusFixture()
	st.Job.HasEta = false
	v = decode(st)
	for _, k := range []string{"eta_seconds", "eta_low_seconds", "eta_high_seconds"} {
		if x, ok := v[k]; !ok || x != nil {
			t.Errorf("%s = %v (present %v), want null", k, x, ok)
		}
	}
}
