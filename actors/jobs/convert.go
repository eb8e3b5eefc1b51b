package jobs

import (
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// jobInfo summarises a run for status and list.
func jobInfo(j store.JobRow, sheets []store.SheetRow) *messages.JobInfo {
	info := jobHeader(j)
	for i := range sheets {
		countSheet(info, sheets[i].Status)
	}
	setUsage(info, store.SheetsUsage(sheets))
	return info
}

func jobHeader(j store.JobRow) *messages.JobInfo {
	return &messages.JobInfo{
		Id: j.JobID, Name: j.Name, Status: string(j.Status), ScorePath: j.ScorePath, Workspace: j.Workspace,
		CreatedAtUnixNano: unixNano(j.CreatedAt), StartedAtUnixNano: unixNano(j.StartedAt),
		FinishedAtUnixNano: unixNano(j.FinishedAt), SheetsTotal: int64(j.SheetsTotal), Error: j.Error,
		UserPaused: j.UserPaused, Run: int64(j.Run), Priority: int64(j.Priority), Group: j.Group,
		PauseReason: j.PauseReason, MaxCostUsd: j.BudgetUSD,
	}
}

// setUsage puts a job's summed usage on its summary.
func setUsage(info *messages.JobInfo, u store.Usage) {
	info.CostUsd, info.HasCost = u.CostUSD, u.CostKnown
	info.InputTokens, info.OutputTokens, info.HasTokens = u.InputTokens, u.OutputTokens, u.TokensKnown
}

func countSheet(info *messages.JobInfo, status messages.SheetState) {
	switch status {
	case messages.SheetCompleted:
		info.SheetsCompleted++
	case messages.SheetRunning:
		info.SheetsRunning++
	case messages.SheetFailed:
		info.SheetsFailed++
	}
}

func sheetInfos(rows []store.SheetRow) []*messages.SheetInfo {
	out := make([]*messages.SheetInfo, len(rows))
	for i, s := range rows {
		si := &messages.SheetInfo{
			Num: int64(s.Num), Stage: s.Stage, Voice: int64(s.Voice), VoiceCount: int64(s.VoiceCount),
			Status: string(s.Status), Attempts: int64(s.Attempts), Instrument: s.Instrument, Model: s.Model,
			StartedAtUnixNano: unixNano(s.StartedAt), FinishedAtUnixNano: unixNano(s.FinishedAt),
			Error: s.Error, WaitingUntilUnixNano: unixNano(s.WaitingUntil), Pid: int64(s.PID),
			InputTokens: s.InputTokens, OutputTokens: s.OutputTokens, CostUsd: s.CostUSD,
			HasCost: s.CostKnown, HasTokens: s.TokensKnown,
			PeakRssMb: s.Profile.PeakRSSMB, CpuSeconds: s.Profile.CPUSeconds, MeanCpuPercent: s.Profile.MeanCPUPercent,
			Stalled: s.Profile.Stalled, Notes: s.Notes, SessionId: s.SessionID,
		}
		if !s.StartedAt.IsZero() {
			end := s.FinishedAt
			if end.IsZero() {
				end = time.Now()
			}
			si.DurationSeconds = end.Sub(s.StartedAt).Seconds()
		}
		if s.ExitCode != nil {
			si.HasExitCode, si.ExitCode = true, int64(*s.ExitCode)
		}
		for _, v := range s.Validations {
			si.Validations = append(si.Validations, &messages.ValidationResult{Type: v.Type, Passed: v.Passed, Detail: v.Detail})
		}
		out[i] = si
	}
	return out
}

// LogSheet is where one sheet's output is.
type LogSheet struct {
	Num     int
	Stage   string
	Voice   int
	Tries   int
	Running bool
	Status  messages.SheetState
}

// logPlan tells the gateway which files hold a job's output.
type logPlan struct {
	Dir      string
	JobID    string
	Finished bool
	Sheets   []LogSheet
}

// LogPlan is the exported view of a plan (the gateway streams from it).
type LogPlan = logPlan

// Ended reports whether a sheet's output can still grow.
func (s LogSheet) Ended() bool { return s.Status.Terminal() }

// Paths returns the files of one try of a sheet.
func (p *LogPlan) Paths(num, try int) (stdout, stderr string) { return attemptPaths(p.Dir, num, try) }

// LogPlanRequest asks the job manager for a job's log plan; reply *LogPlan or *messages.Error.
type LogPlanRequest = logPlanRequest

// NewLogPlanRequest builds a LogPlanRequest.
func NewLogPlanRequest(jobID string) *LogPlanRequest { return &logPlanRequest{jobID: jobID} }

// NewRunLogPlanRequest asks for the log plan of run n of a job id (0: the latest).
func NewRunLogPlanRequest(jobID string, n int) *LogPlanRequest {
	return &logPlanRequest{jobID: jobID, run: n}
}

func newLogPlan(dir string, j store.JobRow, rows []store.SheetRow) *logPlan {
	p := &logPlan{Dir: dir, JobID: j.JobID}
	p.Finished = j.Status.Terminal()
	for _, s := range rows {
		p.Sheets = append(p.Sheets, LogSheet{Num: s.Num, Stage: s.Stage, Voice: s.Voice, Tries: s.Tries,
			Running: s.Status == messages.SheetRunning, Status: s.Status})
	}
	return p
}
