package jobs

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/config/strict"
	"github.com/mzt-dev/mzt/messages"
)

func TestDueHooks(t *testing.T) {
	sheets := []store.SheetRow{{Status: messages.SheetCompleted, CostUSD: 0.25}, {Status: messages.SheetFailed, CostUSD: 0.5},
		{Status: messages.SheetSkipped}}
	sc := score.Hooks{OnSuccess: "ok.sh", OnFailure: "bad.sh", OnFinish: "end.sh", Timeout: strict.Duration(5 * time.Second)}
	conductor := []config.Hook{{On: []string{"job.failed", "stall"}, URL: "http://127.0.0.1:1/x"},
		{On: []string{"job.completed"}, Run: "done.sh"}}
	type want struct{ event, run, url string }
	tests := []struct {
		name   string
		status messages.JobState
		sc     score.Hooks
		want   []want
	}{
		{"completed", messages.JobCompleted, sc, []want{{"on_success", "ok.sh", ""}, {"on_finish", "end.sh", ""}, {"job.completed", "done.sh", ""}}},
		{"failed", messages.JobFailed, sc, []want{{"on_failure", "bad.sh", ""}, {"on_finish", "end.sh", ""}, {"job.failed", "", "http://127.0.0.1:1/x"}}},
		{"cancelled counts as a failure", messages.JobCancelled, sc, []want{{"on_failure", "bad.sh", ""}, {"on_finish", "end.sh", ""}, {"job.failed", "", "http://127.0.0.1:1/x"}}},
		{"only on_finish", messages.JobCompleted, score.Hooks{OnFinish: "end.sh"}, []want{{"on_finish", "end.sh", ""}, {"job.completed", "done.sh", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := store.JobRow{JobID: "j", Status: tt.status, Workspace: "/ws", Run: 2}
			got := dueHooks(job, sheets, tt.sc, conductor, time.Now())
			if len(got) != len(tt.want) {
				t.Fatalf("got %d hooks, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				h := got[i]
				if h.Event != w.event || h.Run != w.run || h.URL != w.url {
					t.Errorf("hook %d = %s %q %q, want %s %q %q", i, h.Event, h.Run, h.URL, w.event, w.run, w.url)
				}
				if h.Dir != "/ws" || h.Env["MZT_EVENT"] != w.event || h.Env["MZT_JOB_STATUS"] != string(tt.status) {
					t.Errorf("hook %d dir %q env %v", i, h.Dir, h.Env)
				}
			}
			env := got[0].Env
			for k, v := range map[string]string{"MZT_JOB_ID": "j", "MZT_SHEETS_TOTAL": "3", "MZT_SHEETS_COMPLETED": "1",
				"MZT_SHEETS_FAILED": "1", "MZT_COST_USD": "0.7500", "MZT_WORKSPACE": "/ws", "MZT_JOB_RUN": "2"} {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
		})
	}
	if got := dueHooks(store.JobRow{Status: messages.JobCompleted}, nil, score.Hooks{}, nil, time.Now()); len(got) != 0 {
		t.Errorf("no hooks configured: got %v", got)
	}
}
