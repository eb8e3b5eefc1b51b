package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// jobJSON is a job as `mzt status --json` prints it. The eta_* fields are null when
// the conductor has no estimate (no history, or the job is finished).
type jobJSON struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Status          string   `json:"status"`
	ScorePath       string   `json:"score_path"`
	Workspace       string   `json:"workspace"`
	CreatedAt       *string  `json:"created_at"`
	StartedAt       *string  `json:"started_at"`
	FinishedAt      *string  `json:"finished_at"`
	SheetsTotal     int64    `json:"sheets_total"`
	SheetsCompleted int64    `json:"sheets_completed"`
	SheetsFailed    int64    `json:"sheets_failed"`
	Run             int64    `json:"run"`
	Error           string   `json:"error"`
	ETASeconds      *float64 `json:"eta_seconds"`
	ETALowSeconds   *float64 `json:"eta_low_seconds"`
	ETAHighSeconds  *float64 `json:"eta_high_seconds"`
	SheetsStalled   int64    `json:"sheets_stalled"`
	CostUSD         *float64 `json:"cost_usd"`      // null: no try reported a cost
	InputTokens     *int64   `json:"input_tokens"`  // null: no try reported tokens
	OutputTokens    *int64   `json:"output_tokens"` // null likewise
	MaxCostUSD      *float64 `json:"max_cost_usd"`  // the budget; null: none
	// The expected cost of the whole job from the score's history; null when
	// a stage left has none.
	CostEstimateUSD     *float64     `json:"cost_estimate_usd"`
	CostEstimateLowUSD  *float64     `json:"cost_estimate_low_usd"`
	CostEstimateHighUSD *float64     `json:"cost_estimate_high_usd"`
	PauseReason         string       `json:"pause_reason,omitempty"`
	Group               string       `json:"group"`
	Priority            int64        `json:"priority"`
	WaitingFor          []string     `json:"waiting_for"`
	Sheets              *[]sheetJSON `json:"sheets,omitempty"`
}

// sheetJSON is a sheet; the profile fields (peak_rss_mb, cpu_seconds,
// mean_cpu_percent) are null until the profiler has sampled the latest try.
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
	InputTokens     *int64           `json:"input_tokens"`
	OutputTokens    *int64           `json:"output_tokens"`
	CostUSD         *float64         `json:"cost_usd"` // the sum of its tries; null when none reported one
	PeakRSSMB       *float64         `json:"peak_rss_mb"`
	CPUSeconds      *float64         `json:"cpu_seconds"`
	MeanCPUPercent  *float64         `json:"mean_cpu_percent"`
	Stalled         bool             `json:"stalled"`
	Notes           []string         `json:"notes"`
	SessionID       string           `json:"session_id,omitempty"`
	WaitingReason   string           `json:"waiting_reason,omitempty"`
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
	out := jobJSON{
		ID: j.GetId(), Name: j.GetName(), Status: j.GetStatus(), ScorePath: j.GetScorePath(), Workspace: j.GetWorkspace(),
		CreatedAt: rfc3339(j.GetCreatedAtUnixNano()), StartedAt: rfc3339(j.GetStartedAtUnixNano()),
		FinishedAt: rfc3339(j.GetFinishedAtUnixNano()), SheetsTotal: j.GetSheetsTotal(),
		SheetsCompleted: j.GetSheetsCompleted(), SheetsFailed: j.GetSheetsFailed(), Run: j.GetRun(), Error: j.GetError(),
		SheetsStalled: j.GetSheetsStalled(), PauseReason: j.GetPauseReason(),
		Group: j.GetGroup(), Priority: j.GetPriority(), WaitingFor: append([]string{}, j.GetAfter()...),
		CostUSD:     costJSON(j.GetCostUsd(), j.GetHasCost()),
		InputTokens: tokensJSON(j.GetInputTokens(), j.GetHasTokens()), OutputTokens: tokensJSON(j.GetOutputTokens(), j.GetHasTokens()),
	}
	if j.GetMaxCostUsd() > 0 {
		out.MaxCostUSD = ptr(j.GetMaxCostUsd())
	}
	if j.GetHasCostEstimate() && !finished(j.GetStatus()) {
		out.CostEstimateUSD = costJSON(j.GetCostEstimateUsd(), true)
		out.CostEstimateLowUSD = costJSON(j.GetCostEstimateLowUsd(), true)
		out.CostEstimateHighUSD = costJSON(j.GetCostEstimateHighUsd(), true)
	}
	if j.GetHasEta() {
		out.ETASeconds = ptr(round1(j.GetEtaSeconds()))
		out.ETALowSeconds = ptr(round1(j.GetEtaLowSeconds()))
		out.ETAHighSeconds = ptr(round1(j.GetEtaHighSeconds()))
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// known is a profile figure for JSON: null while it is zero (not sampled).
func known(v float64) *float64 {
	if v == 0 {
		return nil
	}
	return ptr(v)
}

func toSheetJSON(s *messages.SheetInfo) sheetJSON {
	out := sheetJSON{
		Num: s.GetNum(), Stage: s.GetStage(), Voice: s.GetVoice(), Status: s.GetStatus(), Attempts: s.GetAttempts(),
		Instrument: s.GetInstrument(), StartedAt: rfc3339(s.GetStartedAtUnixNano()),
		FinishedAt: rfc3339(s.GetFinishedAtUnixNano()), WaitingUntil: rfc3339(s.GetWaitingUntilUnixNano()),
		DurationSeconds: s.GetDurationSeconds(), Error: s.GetError(), Validations: []validationJSON{},
		InputTokens: tokensJSON(s.GetInputTokens(), s.GetHasTokens()), OutputTokens: tokensJSON(s.GetOutputTokens(), s.GetHasTokens()),
		CostUSD:   costJSON(s.GetCostUsd(), s.GetHasCost()),
		PeakRSSMB: known(s.GetPeakRssMb()), CPUSeconds: known(s.GetCpuSeconds()),
		MeanCPUPercent: known(s.GetMeanCpuPercent()), Stalled: s.GetStalled(),
		Notes:     append([]string{}, s.GetNotes()...),
		SessionID: s.GetSessionId(), WaitingReason: s.GetWaitingReason(),
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

func writeJobTable(w io.Writer, jobs []*messages.JobInfo) { writeJobTableWith(w, jobs, false) }

// writeJobTableWith is the job table; times adds STARTED and FINISHED
// (list --all, where finished runs are listed too).
func writeJobTableWith(w io.Writer, jobs []*messages.JobInfo, times bool) {
	if len(jobs) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	queued := queueColumns(jobs)
	if times {
		fmt.Fprint(tw, "ID\tSTATUS\tSHEETS\tSTARTED\tFINISHED\tELAPSED\tETA\tCOST\tTOKENS\tNAME")
	} else {
		fmt.Fprint(tw, "ID\tSTATUS\tSHEETS\tELAPSED\tETA\tCOST\tTOKENS\tNAME")
	}
	if queued {
		fmt.Fprint(tw, "\tGROUP\tPRIORITY")
	}
	fmt.Fprintln(tw)
	var total usageTotal
	for _, j := range jobs {
		eta := etaText(j, false)
		if eta == "" {
			eta = "-"
		}
		total.add(j.GetCostUsd(), j.GetHasCost(), j.GetInputTokens(), j.GetOutputTokens(), j.GetHasTokens())
		sheets := fmt.Sprintf("%d/%d", j.GetSheetsCompleted(), j.GetSheetsTotal())
		if times {
			sheets += "\t" + clock(j.GetStartedAtUnixNano()) + "\t" + clock(j.GetFinishedAtUnixNano())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", j.GetId(), displayStatus(j), sheets,
			humanDuration(elapsed(j)), eta, usd(j.GetCostUsd(), j.GetHasCost()),
			tokens(j.GetInputTokens(), j.GetOutputTokens(), j.GetHasTokens()), j.GetName())
		if queued {
			fmt.Fprintf(tw, "\t%s\t%d", orDash(j.GetGroup()), j.GetPriority())
		}
		fmt.Fprintln(tw)
	}
	if len(jobs) > 1 {
		pad := ""
		if times {
			pad = "\t\t"
		}
		fmt.Fprintf(tw, "TOTAL\t\t\t%s\t\t%s\t%s\t\n", pad, usd(total.cost, total.costKnown), tokens(total.in, total.out, total.tokensKnown))
	}
	tw.Flush()
}

// etaText is a job's ETA as "~4m10s (3m-6m)" (precise) or "~4m (3m-6m)",
// or "" when the conductor has none. The range is left out when it says
// nothing more than the estimate.
func etaText(j *messages.JobInfo, precise bool) string {
	if !j.GetHasEta() || finished(j.GetStatus()) {
		return ""
	}
	sec := func(v float64) time.Duration { return time.Duration(v * float64(time.Second)) }
	s := "~" + shortDuration(sec(j.GetEtaSeconds()), precise)
	lo, hi := shortDuration(sec(j.GetEtaLowSeconds()), false), shortDuration(sec(j.GetEtaHighSeconds()), false)
	if j.GetEtaHighSeconds() > 0 && lo != hi {
		s += " (" + lo + "-" + hi + ")"
	}
	return s
}

// shortDuration prints 45s, 4m10s (precise) or 4m, 2h5m, 1d3h: the compact
// form an estimate deserves.
func shortDuration(d time.Duration, precise bool) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Hour && precise:
		return fmt.Sprintf("%dm%ds", d/time.Minute, (d%time.Minute)/time.Second)
	case d < time.Hour:
		return fmt.Sprintf("%dm", d.Round(time.Minute)/time.Minute)
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	default:
		d = d.Round(time.Hour)
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	}
}

// etaPhrase is what the one-job views append: "ETA ~4m10s (3m-6m)", or
// "ETA unknown" while an unfinished job has no estimate; "" once finished.
func etaPhrase(j *messages.JobInfo) string {
	if finished(j.GetStatus()) {
		return ""
	}
	if eta := etaText(j, true); eta != "" {
		return "ETA " + eta + costEstimateText(j)
	}
	return "ETA unknown" + costEstimateText(j)
}

func displayStatus(j *messages.JobInfo) string {
	s := j.GetStatus()
	if len(j.GetAfter()) > 0 && j.State() == messages.JobQueued {
		return "waiting for " + strings.Join(j.GetAfter(), ",")
	}
	if j.GetSheetsFailed() > 0 && j.State() == messages.JobRunning {
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
	if eta := etaPhrase(j); eta != "" {
		fmt.Fprintf(w, " · %s", eta)
	}
	fmt.Fprintf(w, " · %s", jobCost(j))
	if j.GetRun() > 1 {
		fmt.Fprintf(w, " · run %d", j.GetRun())
	}
	writeQueueDetail(w, j)
	fmt.Fprintln(w)
	if budgetPaused(j) {
		fmt.Fprintf(w, "  %s\n", budgetHint(j))
	}
	if j.GetError() != "" {
		fmt.Fprintf(w, "  %s\n", j.GetError())
	}
	fmt.Fprintf(w, "  workspace %s\n\n", j.GetWorkspace())
	// The resource columns appear once the profiler has measured a sheet.
	profiled := false
	for _, s := range st.GetSheets() {
		profiled = profiled || s.GetPeakRssMb() > 0 || s.GetCpuSeconds() > 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if profiled {
		fmt.Fprintln(tw, "SHEET\tSTAGE\tVOICE\tSTATUS\tATTEMPTS\tDURATION\tINSTRUMENT\tCOST\tTOKENS\tPEAK RSS\tCPU TIME\tLAST ERROR")
	} else {
		fmt.Fprintln(tw, "SHEET\tSTAGE\tVOICE\tSTATUS\tATTEMPTS\tDURATION\tINSTRUMENT\tCOST\tTOKENS\tLAST ERROR")
	}
	var total usageTotal
	for _, s := range st.GetSheets() {
		total.add(s.GetCostUsd(), s.GetHasCost(), s.GetInputTokens(), s.GetOutputTokens(), s.GetHasTokens())
		status := s.GetStatus()
		if s.State() == messages.SheetWaiting && s.GetWaitingUntilUnixNano() != 0 {
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
		instrument := s.GetInstrument() + "\t" + usd(s.GetCostUsd(), s.GetHasCost()) + "\t" +
			tokens(s.GetInputTokens(), s.GetOutputTokens(), s.GetHasTokens())
		if profiled {
			instrument += "\t" + megabytes(s.GetPeakRssMb()) + "\t" + cpuTime(s.GetCpuSeconds())
		}
		last := lastErrorLine(s.GetError(), 80)
		if r := s.GetWaitingReason(); r != "" {
			last = oneLine(r, 80)
			if s.GetError() != "" {
				last += " · " + lastErrorLine(s.GetError(), 60)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.GetNum(), s.GetStage(), voice, status, shownAttempts(s),
			dur, instrument, last)
	}
	if len(st.GetSheets()) > 1 {
		extra := ""
		if profiled {
			extra = "\t\t"
		}
		fmt.Fprintf(tw, "TOTAL\t\t\t\t\t\t\t%s\t%s%s\t\n", usd(total.cost, total.costKnown),
			tokens(total.in, total.out, total.tokensKnown), extra)
	}
	tw.Flush()
	writeSheetNotes(w, st.GetSheets())
}

// writeSheetNotes lists, under the sheet table, the sheets that are stalled
// and the profiler's stall and anomaly notes.
func writeSheetNotes(w io.Writer, sheets []*messages.SheetInfo) {
	first := true
	for _, s := range sheets {
		if !s.GetStalled() && len(s.GetNotes()) == 0 {
			continue
		}
		if first {
			fmt.Fprintln(w)
			first = false
		}
		prefix := fmt.Sprintf("  sheet %d: ", s.GetNum())
		if s.GetStalled() {
			prefix += "STALLED"
			if len(s.GetNotes()) == 0 {
				fmt.Fprintln(w, prefix)
				continue
			}
			prefix += " · "
		}
		for _, n := range s.GetNotes() {
			fmt.Fprintf(w, "%s%s\n", prefix, oneLine(n, 120))
			prefix = fmt.Sprintf("  sheet %d: ", s.GetNum())
		}
	}
}

// megabytes prints a memory figure, "-" while unknown.
func megabytes(mb float64) string {
	switch {
	case mb <= 0:
		return "-"
	case mb >= 1024:
		return fmt.Sprintf("%.1f GB", mb/1024)
	case mb >= 10:
		return fmt.Sprintf("%.0f MB", mb)
	default:
		return fmt.Sprintf("%.1f MB", mb)
	}
}

// cpuTime prints CPU seconds, "-" while unknown.
func cpuTime(sec float64) string {
	switch {
	case sec <= 0:
		return "-"
	case sec < 60:
		return fmt.Sprintf("%.1fs", sec)
	default:
		return humanDuration(time.Duration(sec * float64(time.Second)))
	}
}

// shownAttempts counts the try that runs: "1" while the first try runs.
func shownAttempts(s *messages.SheetInfo) int64 {
	if s.State() == messages.SheetRunning {
		return s.GetAttempts() + 1
	}
	return s.GetAttempts()
}

// lastErrorLine shows a multi-line error (a traceback, a command's output)
// by what says the most: its last line, after the kind of failure its first
// line names ("validation failed: … ValueError: bad input").
func lastErrorLine(s string, n int) string {
	var lines []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 {
		return oneLine(s, n)
	}
	last := lines[len(lines)-1]
	if kind, _, ok := strings.Cut(lines[0], ": "); ok && len(kind) < 40 {
		last = kind + ": … " + last
	}
	return oneLine(last, n)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}

func finished(status string) bool {
	return messages.JobState(status).Terminal()
}
