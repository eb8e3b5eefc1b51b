package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/mailbox"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/messages"
)

// Prepared is a run ready to be driven by a job actor: its score parsed and
// its instruments resolved. Err is set when the run cannot go on (its score
// no longer parses); the manager then records it as failed.
type Prepared struct {
	Run      store.Run
	Exited   map[int]int        // sheet number -> exit code of a try that ended unseen
	Adopted  map[int]AdoptedTry // sheet number -> its try, still running with a supervisor
	Score    *score.Score
	Profiles map[string]*instrument.Profile
	Err      error
	// Revive: the run ended (failed or cancelled) and is being resumed; its
	// actor accepts that one resume although the job is not paused.
	Revive bool
}

// prepare parses a run's stored score and resolves its instruments.
func prepare(run store.Run, instrumentsDir string) Prepared {
	p := Prepared{Run: run}
	sc, profiles, err := score.Read(run.Job.ScorePath, run.Job.ScoreSource,
		score.ReadOptions{InstrumentsDir: instrumentsDir, MaxSheets: score.NoSheetLimit, JobID: run.Job.JobID})
	if err != nil {
		p.Err = fmt.Errorf("the stored score no longer parses: %w", err)
		return p
	}
	p.Score, p.Profiles = sc, profiles
	return p
}

// Recover loads every unfinished run after a start: sheets that were running
// when the previous conductor died go back to pending without using an
// attempt, and whatever is left of their processes is killed, identified by
// the recorded process group and start time (never by name), so a reused
// PID is never touched. It runs before the actor tree exists.
func Recover(ctx context.Context, db *store.DB, paths config.Paths, killGrace time.Duration, log *slog.Logger) ([]Prepared, error) {
	return RecoverAdopting(ctx, db, paths, killGrace, nil, log)
}

// RecoverAdopting is Recover, except that the tries in adopt (still running
// with a supervisor) are left running, to be followed by their job actors.
func RecoverAdopting(ctx context.Context, db *store.DB, paths config.Paths, killGrace time.Duration, adopt Adoptable, log *slog.Logger) ([]Prepared, error) {
	runs, err := db.ActiveRuns(ctx)
	if err != nil {
		return nil, err
	}
	// What is left of interrupted tries dies first, all at once: the
	// recorded groups (matched by start time), and whatever escaped them,
	// found by the token planted in the sheet's environment.
	var wg sync.WaitGroup
	for _, run := range runs {
		for _, s := range run.Sheets {
			if s.Status != messages.SheetRunning {
				continue
			}
			if _, ok := adopt[tryToken(run.Job.RunKey, s.Num, s.Tries)]; ok {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := mailbox.Protect(func() { killLeftovers(&s, killGrace, log) }); err != nil {
					log.Error("killing what is left of an interrupted sheet failed", "sheet", s.Num, "err", err)
				}
			}()
		}
	}
	wg.Wait()
	// No sheet runs yet: any process carrying a token of an unfinished run
	// is a leftover, whatever its sheet's recorded state.
	runPrefixes := make([]string, len(runs))
	for i, run := range runs {
		runPrefixes[i] = run.Job.RunKey + "/"
	}
	left := reaper.FindLeftovers(runPrefixes)
	left = slices.DeleteFunc(left, func(l reaper.Leftover) bool { _, ok := adopt[l.Token]; return ok })
	if len(left) > 0 {
		for _, l := range left {
			log.Warn("killing a process left by an interrupted sheet", "pid", l.PID, "sheet_token", l.Token)
		}
		reaper.KillLeftovers(left, killGrace)
	}
	// Then: a try whose exit file holds a code ended on its own (the
	// wrapper writes it only when the instrument exits): it is judged, not
	// run a second time.
	out := make([]Prepared, 0, len(runs))
	for _, run := range runs {
		exited, adopted := map[int]int{}, map[int]AdoptedTry{}
		var exits runExits
		for i := range run.Sheets {
			s := &run.Sheets[i]
			if s.Status != messages.SheetRunning {
				continue
			}
			if a, ok := adopt[tryToken(run.Job.RunKey, s.Num, s.Tries)]; ok {
				adopted[s.Num] = a
				continue
			}
			s.PID, s.PGID, s.ProcStart = 0, 0, 0
			base := attemptBase(filepath.Join(paths.SheetLogs, run.Job.RunKey), s.Num, s.Tries)
			// A code above 128 is a death by signal: with no conductor to
			// send it, it came from a kill (ours at this start, or the
			// machine's); the try was interrupted, not finished.
			code, ok := exits.code(base)
			if ok && code <= 128 {
				exited[s.Num] = code
				continue
			}
			s.Status, s.Error = messages.SheetPending, "interrupted: the conductor stopped while it ran"
		}
		log.Info("recovering job", "job", run.Job.JobID, "run", run.Job.Run, "status", run.Job.Status)
		p := prepare(run, paths.Instruments)
		p.Exited, p.Adopted = exited, adopted
		out = append(out, p)
	}
	return out, nil
}

// killLeftovers kills the recorded group of an interrupted sheet if its
// leader still runs (same PID and start time); it reports whether it did.
func killLeftovers(s *store.SheetRow, grace time.Duration, log *slog.Logger) bool {
	if s.PID <= 0 || s.PGID <= 1 || s.ProcStart == 0 {
		return false
	}
	ticks, err := sheetrun.ProcStartTicks(s.PID)
	if err != nil {
		return false // gone
	}
	if ticks != s.ProcStart {
		log.Info("recorded sheet process was reused by another program; leaving it alone", "pid", s.PID, "sheet", s.Num)
		return false
	}
	// The leader is the exit-code wrapper: when its instrument has already
	// exited, it is about to record the exit code; let it, rather than turn
	// a finished try into an interrupted one.
	if waitWrapperDone(s.PID, 500*time.Millisecond) {
		log.Info("an interrupted sheet's try ended on its own during recovery", "sheet", s.Num, "pid", s.PID)
	}
	log.Warn("killing what is left of an interrupted sheet", "sheet", s.Num, "pid", s.PID, "pgid", s.PGID)
	if err := sheetrun.KillGroup(s.PGID, grace); err != nil {
		log.Error("kill interrupted sheet", "pgid", s.PGID, "err", err)
	}
	return true
}

// newJobActor builds the actor for a prepared run.
func newJobActor(p Prepared, d *Deps, mgrSettings jobSettings) *jobActor {
	set := mgrSettings
	set.logDir = filepath.Join(d.Paths.SheetLogs, p.Run.Job.RunKey)
	j := &jobActor{set: set, sc: p.Score, profiles: p.Profiles, job: p.Run.Job, log: d.Log,
		store: d.Store, revive: p.Revive}
	j.job.ScoreSource = nil
	rows := map[int]store.SheetRow{}
	for _, r := range p.Run.Sheets {
		rows[r.Num] = r
	}
	for _, sh := range p.Score.Sheets() {
		row, ok := rows[sh.Num]
		if !ok {
			row = newSheetRow(p.Run.Job.RunKey, sh, p.Profiles)
		}
		st := &sheetState{row: row, sh: sh}
		if code, ok := p.Exited[sh.Num]; ok && row.Status == messages.SheetRunning {
			st.exited = &code
		}
		if a, ok := p.Adopted[sh.Num]; ok && row.Status == messages.SheetRunning {
			st.adopted = &a
		}
		j.sheets = append(j.sheets, st)
	}
	j.buildIndex()
	return j
}

func newSheetRow(runKey string, sh score.Sheet, profiles map[string]*instrument.Profile) store.SheetRow {
	return store.SheetRow{RunKey: runKey, Num: sh.Num, Stage: sh.Stage.ID, Voice: sh.Voice, VoiceCount: sh.VoiceCount,
		Instrument: profiles[sh.Instrument()].Name, Model: sh.Stage.Model, Status: messages.SheetPending}
}

func baseEnv() []string { return os.Environ() }

// waitWrapperDone waits up to d for a wrapper whose instrument has exited
// (it has no children left) to exit itself; it reports whether it did.
func waitWrapperDone(pid int, d time.Duration) bool {
	children := func() string {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		return strings.TrimSpace(string(data))
	}
	if children() != "" {
		return false
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := sheetrun.ProcStartTicks(pid); err != nil {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}
