package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// jobJSON is a job as CONTRACT §3 prints it.
type jobJSON struct {
	ID              string       `json:"id"`
	Name            string       `json:"name"`
	Status          string       `json:"status"`
	ScorePath       string       `json:"score_path"`
	Workspace       string       `json:"workspace"`
	CreatedAt       *string      `json:"created_at"`
	StartedAt       *string      `json:"started_at"`
	FinishedAt      *string      `json:"finished_at"`
	SheetsTotal     int64        `json:"sheets_total"`
	SheetsCompleted int64        `json:"sheets_completed"`
	SheetsFailed    int64        `json:"sheets_failed"`
	Run             int64        `json:"run"`
	Error           string       `json:"error"`
	Sheets          *[]sheetJSON `json:"sheets,omitempty"`
}

type sheetJSON struct {
	Num             int64            `json:"num"`
	Stage           string           `json:"stage"`
	Voice           int64            `json:"voice"`
	Status          string           `json:"status"`
	Attempts        int64            `json:"attempts"`
	Instrument      string           `json:"instrument"`
	StartedAt       *string          `json:"started_at"`
	FinishedAt      *string          `json:"finished_at"`
	WaitingUntil    *string          `json:"waiting_until,omitempty"`
	DurationSeconds float64          `json:"duration_seconds"`
	ExitCode        *int64           `json:"exit_code"`
	Error           string           `json:"error"`
	Validations     []validationJSON `json:"validations"`
	InputTokens     int64            `json:"input_tokens,omitempty"`
	OutputTokens    int64            `json:"output_tokens,omitempty"`
	CostUSD         float64          `json:"cost_usd,omitempty"`
}

type validationJSON struct {
	Type   string `json:"type"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

func rfc3339(ns int64) *string {
	if ns == 0 {
		return nil
	}
	s := time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
	return &s
}

func toJobJSON(j *messages.JobInfo) jobJSON {
	return jobJSON{
		ID: j.GetId(), Name: j.GetName(), Status: j.GetStatus(), ScorePath: j.GetScorePath(), Workspace: j.GetWorkspace(),
		CreatedAt: rfc3339(j.GetCreatedAtUnixNano()), StartedAt: rfc3339(j.GetStartedAtUnixNano()),
		FinishedAt: rfc3339(j.GetFinishedAtUnixNano()), SheetsTotal: j.GetSheetsTotal(),
		SheetsCompleted: j.GetSheetsCompleted(), SheetsFailed: j.GetSheetsFailed(), Run: j.GetRun(), Error: j.GetError(),
	}
}

func toSheetJSON(s *messages.SheetInfo) sheetJSON {
	out := sheetJSON{
		Num: s.GetNum(), Stage: s.GetStage(), Voice: s.GetVoice(), Status: s.GetStatus(), Attempts: s.GetAttempts(),
		Instrument: s.GetInstrument(), StartedAt: rfc3339(s.GetStartedAtUnixNano()),
		FinishedAt: rfc3339(s.GetFinishedAtUnixNano()), WaitingUntil: rfc3339(s.GetWaitingUntilUnixNano()),
		DurationSeconds: s.GetDurationSeconds(), Error: s.GetError(), Validations: []validationJSON{},
		InputTokens: s.GetInputTokens(), OutputTokens: s.GetOutputTokens(), CostUSD: s.GetCostUsd(),
	}
	if s.GetHasExitCode() {
		code := s.GetExitCode()
		out.ExitCode = &code
	}
	for _, v := range s.GetValidations() {
		out.Validations = append(out.Validations, validationJSON{Type: v.GetType(), Passed: v.GetPassed(), Detail: v.GetDetail()})
	}
	return out
}

func jobStatusJSON(st *messages.JobStatus) any {
	j := toJobJSON(st.GetJob())
	sheets := make([]sheetJSON, 0, len(st.GetSheets()))
	for _, s := range st.GetSheets() {
		sheets = append(sheets, toSheetJSON(s))
	}
	j.Sheets = &sheets
	return struct {
		Schema string `json:"schema"`
		jobJSON
	}{schema, j}
}

// elapsed is how long a job has run (or ran).
func elapsed(j *messages.JobInfo) time.Duration {
	start := j.GetStartedAtUnixNano()
	if start == 0 {
		return 0
	}
	end := j.GetFinishedAtUnixNano()
	if end == 0 {
		end = time.Now().UnixNano()
	}
	return time.Duration(end - start)
}

func writeJobTable(w io.Writer, jobs []*messages.JobInfo) {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSHEETS\tELAPSED\tNAME")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", j.GetId(), displayStatus(j), j.GetSheetsCompleted(),
			j.GetSheetsTotal(), humanDuration(elapsed(j)), j.GetName())
	}
	tw.Flush()
}

func displayStatus(j *messages.JobInfo) string {
	s := j.GetStatus()
	if j.GetSheetsFailed() > 0 && s == "running" {
		s += fmt.Sprintf(" (%d failed)", j.GetSheetsFailed())
	}
	return s
}

func writeJobDetail(w io.Writer, st *messages.JobStatus) {
	j := st.GetJob()
	fmt.Fprintf(w, "job %s", j.GetId())
	if j.GetName() != "" && j.GetName() != j.GetId() {
		fmt.Fprintf(w, " (%s)", j.GetName())
	}
	fmt.Fprintf(w, " · %s · %d/%d sheets completed · elapsed %s", j.GetStatus(), j.GetSheetsCompleted(),
		j.GetSheetsTotal(), humanDuration(elapsed(j)))
	if j.GetRun() > 1 {
		fmt.Fprintf(w, " · run %d", j.GetRun())
	}
	fmt.Fprintln(w)
	if j.GetError() != "" {
		fmt.Fprintf(w, "  %s\n", j.GetError())
	}
	fmt.Fprintf(w, "  workspace %s\n\n", j.GetWorkspace())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHEET\tSTAGE\tVOICE\tSTATUS\tATTEMPTS\tDURATION\tINSTRUMENT\tLAST ERROR")
	for _, s := range st.GetSheets() {
		status := s.GetStatus()
		if s.GetStatus() == "waiting" && s.GetWaitingUntilUnixNano() != 0 {
			status += " " + humanDuration(time.Until(time.Unix(0, s.GetWaitingUntilUnixNano())))
		}
		dur := "-"
		if s.GetStartedAtUnixNano() != 0 {
			dur = humanDuration(time.Duration(s.GetDurationSeconds() * float64(time.Second)))
		}
		voice := "-"
		if s.GetVoiceCount() > 1 {
			voice = fmt.Sprintf("%d/%d", s.GetVoice(), s.GetVoiceCount())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.GetNum(), s.GetStage(), voice, status, s.GetAttempts(),
			dur, s.GetInstrument(), oneLine(s.GetError(), 80))
	}
	tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func finished(status string) bool {
	return status == "completed" || status == "failed" || status == "cancelled"
}
