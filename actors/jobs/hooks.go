package jobs

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/messages"
)

// hookEnv is what a hook about a job finds in its environment.
func hookEnv(job store.JobRow, sheets []store.SheetRow, event string) map[string]string {
	completed, failed := 0, 0
	cost := 0.0
	for _, s := range sheets {
		switch s.Status {
		case messages.SheetCompleted:
			completed++
		case messages.SheetFailed:
			failed++
		}
		cost += s.CostUSD
	}
	return map[string]string{
		"MZT_EVENT": event, "MZT_JOB_ID": job.JobID, "MZT_JOB_NAME": job.Name, "MZT_JOB_STATUS": string(job.Status),
		"MZT_JOB_ERROR": job.Error, "MZT_JOB_RUN": strconv.Itoa(job.Run), "MZT_WORKSPACE": job.Workspace,
		"MZT_SHEETS_TOTAL": strconv.Itoa(len(sheets)), "MZT_SHEETS_COMPLETED": strconv.Itoa(completed),
		"MZT_SHEETS_FAILED": strconv.Itoa(failed), "MZT_COST_USD": strconv.FormatFloat(cost, 'f', 4, 64),
	}
}

// dueHooks are the hooks a job's end makes due: the score's on_success or
// on_failure (failed or cancelled), then on_finish, then the conductor's
// [[hooks]] on job.completed or job.failed (failed or cancelled).
func dueHooks(job store.JobRow, sheets []store.SheetRow, sc score.Hooks, conductor []config.Hook, now time.Time) []store.HookRow {
	completed := job.Status == messages.JobCompleted
	var out []store.HookRow
	add := func(event, run, url string, timeout time.Duration) {
		env := hookEnv(job, sheets, event)
		body, _ := json.Marshal(hookBody{Schema: "mzt/v1", Event: event, JobID: job.JobID, Status: string(job.Status),
			Error: job.Error, Run: job.Run, Workspace: job.Workspace, SheetsTotal: json.Number(env["MZT_SHEETS_TOTAL"]),
			SheetsCompleted: json.Number(env["MZT_SHEETS_COMPLETED"]), SheetsFailed: json.Number(env["MZT_SHEETS_FAILED"]), CostUSD: json.Number(env["MZT_COST_USD"]),
			Time: now.UTC().Format(time.RFC3339Nano)})
		out = append(out, store.HookRow{JobID: job.JobID, Event: event, Run: run, URL: url, Dir: job.Workspace,
			Env: env, Body: string(body), Timeout: timeout, Created: now})
	}
	switch {
	case completed && sc.OnSuccess != "":
		add("on_success", sc.OnSuccess, "", sc.TimeoutOrDefault())
	case !completed && sc.OnFailure != "":
		add("on_failure", sc.OnFailure, "", sc.TimeoutOrDefault())
	}
	if sc.OnFinish != "" {
		add("on_finish", sc.OnFinish, "", sc.TimeoutOrDefault())
	}
	event := "job.failed"
	if completed {
		event = "job.completed"
	}
	for _, h := range conductor {
		if h.Wants(event) {
			add(event, h.Run, h.URL, h.TimeoutOrDefault())
		}
	}
	return out
}

// hookBody is the JSON a URL hook about a job's end receives; the counts
// are those of its environment.
type hookBody struct {
	Schema          string      `json:"schema"`
	Event           string      `json:"event"`
	JobID           string      `json:"job_id"`
	Status          string      `json:"status"`
	Error           string      `json:"error"`
	Run             int         `json:"run"`
	Workspace       string      `json:"workspace"`
	SheetsTotal     json.Number `json:"sheets_total"`
	SheetsCompleted json.Number `json:"sheets_completed"`
	SheetsFailed    json.Number `json:"sheets_failed"`
	CostUSD         json.Number `json:"cost_usd"`
	Time            string      `json:"time"`
}
