package jobs

import (
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// RunningSheet is one running try as the profiler and the live views see it.
type RunningSheet struct {
	JobID, RunKey, Stage, Instrument string
	ScoreKey                         string // the score's identity, for its history
	Num, Voice, VoiceCount, Try      int
	Attempts                         int // counted attempts used before this try
	PID, PGID                        int
	StartedAt                        time.Time
	Stdout, Stderr                   string // where this try's output goes
	StallAfter                       time.Duration
	OnStall                          string
	CPUOnly                          bool          // only CPU use is activity (instrument liveness "cpu")
	Live                             *SheetProfile // the latest sample (nil before the first)
	Notes                            []string      // stall and anomaly lines of this try so far
}

// RunningSheetsRequest asks the job manager for every running try; reply
// *RunningSheets.
type RunningSheetsRequest struct{}

// RunningSheets answers RunningSheetsRequest.
type RunningSheets struct{ Sheets []RunningSheet }

// SheetProfile is what the profiler learned about one try in one round.
type SheetProfile struct {
	JobID         string
	Num, Try      int
	CPUPercent    float64 // of one core, over the last interval
	RSSMB         float64
	Threads       int
	Processes     int
	OpenFiles     int
	ReadBytes     int64
	WriteBytes    int64
	PeakRSSMB     float64 // over the try so far
	CPUSeconds    float64
	MeanCPU       float64
	Stalled       bool     // no CPU progress and no new output for StallAfter
	StallNote     string   // set in the round the try became stalled
	NewNotes      []string // anomalies found this round
	StallResolved bool     // set in the round a stalled try made progress again
}

// ProfileUpdate carries one profiler round.
type ProfileUpdate struct{ Profiles []SheetProfile }

// TopRequest asks for the active jobs and every running sheet; reply
// *messages.TopSnapshot (without the conductor panel).
type TopRequest struct{}

// sheetRunning tells the manager a try's process runs.
type sheetRunning struct{ sheet RunningSheet }

// profileUpdate is one try's profile, forwarded to its job actor.
type profileUpdate struct{ p SheetProfile }

// reconfigured carries reloaded conductor settings to the job actors.
type reconfigured struct {
	stallAfter time.Duration
	onStall    string
	maxSheets  int
}

// maxNotes bounds the notes kept per try (the newest stay).
const maxNotes = 20

// onSheetRunning records a running try (manager).
func (a *Actor) onSheetRunning(m *sheetRunning) {
	k := slotKey{m.sheet.JobID, m.sheet.Num}
	if !a.slots.holds(k.jobID, k.num) {
		return // it ended before this arrived
	}
	s := m.sheet
	a.running[k] = &s
}

func (a *Actor) onProfileUpdate(ctx actor.Context, m *ProfileUpdate) {
	for i := range m.Profiles {
		p := m.Profiles[i]
		k := slotKey{p.JobID, p.Num}
		r := a.running[k]
		if r == nil || r.Try != p.Try {
			continue
		}
		r.Live = &p
		r.Notes = addNotes(r.Notes, p)
		if e := a.jobs[p.JobID]; e != nil {
			ctx.Send(e.pid, &profileUpdate{p: p})
		}
	}
}

func (a *Actor) runningSheets() *RunningSheets {
	out := &RunningSheets{Sheets: make([]RunningSheet, 0, len(a.running))}
	for _, r := range a.running {
		out.Sheets = append(out.Sheets, *r)
	}
	sort.Slice(out.Sheets, func(i, j int) bool {
		x, y := out.Sheets[i], out.Sheets[j]
		return x.JobID < y.JobID || x.JobID == y.JobID && x.Num < y.Num
	})
	return out
}

// top answers TopRequest: ETAs are moved on by the time since each job last
// reported, so a job that has not changed still counts down.
func (a *Actor) top() *messages.TopSnapshot {
	now := time.Now()
	snap := &messages.TopSnapshot{}
	for _, e := range a.jobs {
		if e.final != nil {
			continue
		}
		info := e.info
		if info.GetHasEta() {
			info = cloneInfo(info)
			since := now.Sub(e.infoAt).Seconds()
			info.EtaSeconds = max(info.EtaSeconds-since, 0)
			info.EtaLowSeconds = max(info.EtaLowSeconds-since, 0)
			info.EtaHighSeconds = max(info.EtaHighSeconds-since, 0)
		}
		snap.Jobs = append(snap.Jobs, info)
	}
	sortJobs(snap.Jobs)
	for _, r := range a.runningSheets().Sheets {
		si := &messages.SheetInfo{Num: int64(r.Num), Stage: r.Stage, Voice: int64(r.Voice),
			VoiceCount: int64(r.VoiceCount), Status: string(messages.SheetRunning), Attempts: int64(r.Attempts),
			Instrument: r.Instrument, StartedAtUnixNano: unixNano(r.StartedAt), Pid: int64(r.PID),
			DurationSeconds: now.Sub(r.StartedAt).Seconds()}
		if r.Live != nil {
			applyLive(si, r.Live)
		}
		si.Notes = r.Notes
		snap.Sheets = append(snap.Sheets, &messages.RunningSheet{JobId: r.JobID, Sheet: si})
	}
	return snap
}

func cloneInfo(in *messages.JobInfo) *messages.JobInfo {
	return proto.Clone(in).(*messages.JobInfo)
}

// applyLive copies a live profile into a sheet's wire form.
func applyLive(si *messages.SheetInfo, p *SheetProfile) {
	si.CpuPercent, si.RssMb, si.Threads, si.Processes = p.CPUPercent, p.RSSMB, int64(p.Threads), int64(p.Processes)
	si.OpenFiles, si.IoReadBytes, si.IoWriteBytes = int64(p.OpenFiles), p.ReadBytes, p.WriteBytes
	si.PeakRssMb, si.CpuSeconds, si.MeanCpuPercent = p.PeakRSSMB, p.CPUSeconds, p.MeanCPU
	si.Stalled = p.Stalled
}

// stallPolicy resolves a sheet's stall settings: its stage, else the
// conductor's. An instrument whose liveness is "none" shows none, so its
// tries are never judged stalled (their timeout still applies).
func (j *jobActor) stallPolicy(s *sheetState) (time.Duration, string) {
	after, on := time.Duration(s.sh.Stage.StallAfter), s.sh.Stage.OnStall
	if after == 0 {
		after = j.set.stallAfter
	}
	if j.liveness(s) == instrument.LivenessNone {
		after = 0
	}
	if on == "" {
		on = j.set.onStall
	}
	return after, on
}

// liveness is how the sheet's instrument shows it is alive.
func (j *jobActor) liveness(s *sheetState) string {
	if p := j.profiles[s.sh.Instrument()]; p != nil {
		return p.Liveness
	}
	return ""
}

// reportRunning tells the manager (for the profiler and top) what runs.
func (j *jobActor) reportRunning(ctx actor.Context, s *sheetState) {
	after, on := j.stallPolicy(s)
	out, errPath := attemptPaths(j.set.logDir, s.row.Num, s.row.Tries)
	ctx.Send(j.mgr, &sheetRunning{sheet: RunningSheet{JobID: j.job.JobID, RunKey: j.job.RunKey, ScoreKey: j.historyKey(),
		Stage: s.row.Stage, Instrument: s.row.Instrument, Num: s.row.Num, Voice: s.row.Voice,
		VoiceCount: s.row.VoiceCount, Try: s.row.Tries, Attempts: s.row.Attempts, PID: s.row.PID, PGID: s.row.PGID,
		StartedAt: s.row.StartedAt, Stdout: out, Stderr: errPath, StallAfter: after, OnStall: on,
		CPUOnly: j.liveness(s) == instrument.LivenessCPU}})
}

// applyProfile keeps a running try's profile, records its notes and, for a
// try that just stalled under on_stall = "retry", stops it (the try then
// counts as a failed attempt).
func (j *jobActor) applyProfile(ctx actor.Context, p *SheetProfile) {
	if p.Num < 1 || p.Num > len(j.sheets) {
		return
	}
	s := j.sheets[p.Num-1]
	if s.row.Status != messages.SheetRunning || s.row.Tries != p.Try {
		return
	}
	s.live = p
	s.row.Profile.PeakRSSMB, s.row.Profile.CPUSeconds, s.row.Profile.MeanCPUPercent = p.PeakRSSMB, p.CPUSeconds, p.MeanCPU
	s.row.Notes = addNotes(s.row.Notes, *p)
	if p.StallNote != "" {
		s.row.Profile.Stalled = true
		if _, on := j.stallPolicy(s); on == score.OnStallRetry && s.cancel != nil && s.stopWhy == stopNone {
			j.log.Warn("sheet stalled; stopping the try (on_stall = retry)", "sheet", p.Num, "try", p.Try)
			s.stopWhy, s.stallNote = stopStall, p.StallNote
			s.cancel()
		}
	}
	if p.StallNote != "" || p.StallResolved || len(p.NewNotes) > 0 {
		j.persist(ctx, nil, s)
	}
}

// addNotes appends what a profiler round found to a try's notes, keeping the
// newest maxNotes.
func addNotes(notes []string, p SheetProfile) []string {
	if p.StallNote != "" {
		notes = append(notes, p.StallNote)
	}
	if p.StallResolved {
		notes = append(notes, "made progress again after a stall")
	}
	notes = append(notes, p.NewNotes...)
	if len(notes) > maxNotes {
		notes = notes[len(notes)-maxNotes:]
	}
	return notes
}

// withLive overlays the live profile of running sheets on their wire form.
func (j *jobActor) withLive(infos []*messages.SheetInfo) []*messages.SheetInfo {
	for i, s := range j.sheets {
		if s.row.Status == messages.SheetRunning && s.live != nil && s.live.Try == s.row.Tries {
			applyLive(infos[i], s.live)
		}
	}
	return infos
}
