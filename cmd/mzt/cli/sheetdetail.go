package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
)

// sheetDetail is `mzt status JOB --sheet N`: the sheet, then every try.
func sheetDetail(g *Globals, id string, num int, asJSON bool) error {
	if num < 1 {
		return failf(exitUsage, "", "--sheet must be 1 or more, not %d", num)
	}
	st, err := call[*messages.JobStatus](g, g.ctx, &messages.JobStatusRequest{JobId: id, Sheet: int64(num)})
	if errors.Is(err, client.ErrJobNotFound) {
		var re *client.RemoteError
		if errors.As(err, &re) {
			return failf(exitFailed, re.Hint, "%s", re.Message)
		}
	}
	if err != nil {
		return err
	}
	if asJSON {
		return g.printJSON(sheetDetailJSON(st))
	}
	var b strings.Builder
	writeSheetDetail(&b, st)
	g.printf("%s", b.String())
	return nil
}

type tryJSON struct {
	Try             int64            `json:"try"`
	Counted         bool             `json:"counted"`
	Outcome         string           `json:"outcome"`
	Running         bool             `json:"running"`
	StartedAt       *string          `json:"started_at"`
	FinishedAt      *string          `json:"finished_at"`
	DurationSeconds float64          `json:"duration_seconds"`
	ExitCode        *int64           `json:"exit_code"`
	Error           string           `json:"error"`
	Validations     []validationJSON `json:"validations"`
	PromptPath      string           `json:"prompt_path"`
	StdoutPath      string           `json:"stdout_path"`
	StderrPath      string           `json:"stderr_path"`
	PeakRSSMB       *float64         `json:"peak_rss_mb"`
	CPUSeconds      *float64         `json:"cpu_seconds"`
}

func sheetDetailJSON(st *messages.JobStatus) any {
	out := struct {
		Schema string    `json:"schema"`
		Job    string    `json:"job"`
		Sheet  sheetJSON `json:"sheet"`
		Tries  []tryJSON `json:"tries"`
	}{Schema: schema, Job: st.GetJob().GetId(), Tries: []tryJSON{}}
	if len(st.GetSheets()) > 0 {
		out.Sheet = toSheetJSON(st.GetSheets()[0])
	}
	for _, t := range st.GetTries() {
		tj := tryJSON{Try: t.GetTry(), Counted: t.GetCounted(), Outcome: t.GetOutcome(), Running: t.GetRunning(),
			StartedAt: rfc3339(t.GetStartedAtUnixNano()), FinishedAt: rfc3339(t.GetFinishedAtUnixNano()),
			DurationSeconds: tryDuration(t).Seconds(), Error: t.GetError(), Validations: []validationJSON{},
			PromptPath: t.GetPromptPath(), StdoutPath: t.GetStdoutPath(), StderrPath: t.GetStderrPath(),
			PeakRSSMB: known(t.GetPeakRssMb()), CPUSeconds: known(t.GetCpuSeconds())}
		if t.GetHasExitCode() {
			code := t.GetExitCode()
			tj.ExitCode = &code
		}
		for _, v := range t.GetValidations() {
			tj.Validations = append(tj.Validations, validationJSON{Type: v.GetType(), Passed: v.GetPassed(), Detail: v.GetDetail()})
		}
		out.Tries = append(out.Tries, tj)
	}
	return out
}

func tryDuration(t *messages.TryInfo) time.Duration {
	if t.GetStartedAtUnixNano() == 0 {
		return 0
	}
	end := time.Now()
	if t.GetFinishedAtUnixNano() != 0 {
		end = time.Unix(0, t.GetFinishedAtUnixNano())
	}
	return end.Sub(time.Unix(0, t.GetStartedAtUnixNano()))
}

func writeSheetDetail(w io.Writer, st *messages.JobStatus) {
	if len(st.GetSheets()) == 0 {
		return
	}
	s := st.GetSheets()[0]
	fmt.Fprintf(w, "job %s · sheet %d (stage %s", st.GetJob().GetId(), s.GetNum(), s.GetStage())
	if s.GetVoiceCount() > 1 {
		fmt.Fprintf(w, ", voice %d/%d", s.GetVoice(), s.GetVoiceCount())
	}
	fmt.Fprintf(w, ") · %s · %d attempt(s) used · instrument %s\n", s.GetStatus(), s.GetAttempts(), s.GetInstrument())
	if r := s.GetWaitingReason(); r != "" {
		fmt.Fprintf(w, "  waiting: %s\n", r)
	}
	if s.GetError() != "" {
		fmt.Fprintf(w, "  last error: %s\n", lastErrorLine(s.GetError(), 200))
	}
	if s.GetCostUsd() > 0 || s.GetInputTokens() > 0 {
		fmt.Fprintf(w, "  cost $%.4f · %d input / %d output tokens (all tries)\n", s.GetCostUsd(), s.GetInputTokens(), s.GetOutputTokens())
	}
	if s.GetSessionId() != "" {
		fmt.Fprintf(w, "  session %s\n", s.GetSessionId())
	}
	for _, t := range st.GetTries() {
		outcome := t.GetOutcome()
		if t.GetRunning() {
			outcome = "running"
		}
		counted := "not counted"
		if t.GetCounted() {
			counted = "counted"
		}
		fmt.Fprintf(w, "\ntry %d · %s (%s) · %s", t.GetTry(), outcome, counted, humanDuration(tryDuration(t)))
		if t.GetHasExitCode() {
			fmt.Fprintf(w, " · exit %d", t.GetExitCode())
		}
		fmt.Fprintln(w)
		if t.GetError() != "" {
			fmt.Fprintf(w, "  why: %s\n", lastErrorLine(t.GetError(), 200))
		}
		for _, v := range t.GetValidations() {
			mark := "passed"
			if !v.GetPassed() {
				mark = "FAILED"
			}
			fmt.Fprintf(w, "  validation %s %s: %s\n", v.GetType(), mark, oneLine(v.GetDetail(), 160))
		}
		fmt.Fprintf(w, "  prompt %s\n  stdout %s\n  stderr %s\n", t.GetPromptPath(), t.GetStdoutPath(), t.GetStderrPath())
	}
}
