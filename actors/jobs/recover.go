package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/instrument"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/internal/sheetrun"
)

// Prepared is a run ready to be driven by a job actor: its score parsed and
// its instruments resolved. Err is set when the run cannot go on (its score
// no longer parses); the manager then records it as failed.
type Prepared struct {
	Run      store.Run
	Score    *score.Score
	Profiles map[string]*instrument.Profile
	Err      error
}

// prepare parses a run's stored score and resolves its instruments.
func prepare(run store.Run, instrumentsDir string) Prepared {
	p := Prepared{Run: run}
	profiles, err := instrument.Load(instrumentsDir)
	if err != nil {
		p.Err = fmt.Errorf("instrument profiles: %w", err)
		return p
	}
	sc, err := score.Parse(run.Job.ScorePath, run.Job.ScoreSource, profileNames(profiles))
	if err != nil {
		p.Err = fmt.Errorf("the stored score no longer parses: %w", err)
		return p
	}
	if err := sc.SetID(run.Job.JobID); err != nil {
		p.Err = err
		return p
	}
	p.Score, p.Profiles = sc, profiles
	return p
}

func profileNames(profiles map[string]*instrument.Profile) map[string]bool {
	names := make(map[string]bool, len(profiles))
	for n := range profiles {
		names[n] = true
	}
	return names
}

// Recover loads every unfinished run after a start: sheets that were running
// when the previous conductor died go back to pending without using an
// attempt, and whatever is left of their processes is killed, identified by
// the recorded process group and start time (never by name), so a reused
// PID is never touched. It runs before the actor tree exists.
func Recover(ctx context.Context, db *store.DB, paths config.Paths, killGrace time.Duration, log *slog.Logger) ([]Prepared, error) {
	runs, err := db.ActiveRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Prepared, 0, len(runs))
	// Processes that escaped an interrupted sheet's group (setsid, double
	// fork) are found by the token planted in the sheet's environment.
	var prefixes []string
	for _, run := range runs {
		for _, s := range run.Sheets {
			if s.Status == SheetRunning {
				prefixes = append(prefixes, fmt.Sprintf("%s/%d/", run.Job.RunKey, s.Num))
			}
		}
	}
	if left := reaper.FindLeftovers(prefixes); len(left) > 0 {
		for _, l := range left {
			log.Warn("killing a process left by an interrupted sheet", "pid", l.PID, "sheet_token", l.Token)
		}
		reaper.KillLeftovers(left, killGrace)
	}
	for _, run := range runs {
		for i := range run.Sheets {
			s := &run.Sheets[i]
			if s.Status != SheetRunning {
				continue
			}
			killLeftovers(s, killGrace, log)
			s.Status, s.Error = SheetPending, "interrupted: the conductor stopped while it ran"
			s.PID, s.PGID, s.ProcStart = 0, 0, 0
		}
		log.Info("recovering job", "job", run.Job.JobID, "run", run.Job.Run, "status", run.Job.Status)
		out = append(out, prepare(run, paths.Instruments))
	}
	return out, nil
}

func killLeftovers(s *store.SheetRow, grace time.Duration, log *slog.Logger) {
	if s.PID <= 0 || s.PGID <= 1 || s.ProcStart == 0 {
		return
	}
	ticks, err := sheetrun.ProcStartTicks(s.PID)
	if err != nil {
		return // gone
	}
	if ticks != s.ProcStart {
		log.Info("recorded sheet process was reused by another program; leaving it alone", "pid", s.PID, "sheet", s.Num)
		return
	}
	log.Warn("killing what is left of an interrupted sheet", "sheet", s.Num, "pid", s.PID, "pgid", s.PGID)
	if err := sheetrun.KillGroup(s.PGID, grace); err != nil {
		log.Error("kill interrupted sheet", "pgid", s.PGID, "err", err)
	}
}

// newJobActor builds the actor for a prepared run.
func newJobActor(p Prepared, d *Deps, mgrSettings jobSettings) *jobActor {
	set := mgrSettings
	set.logDir = filepath.Join(d.Paths.SheetLogs, p.Run.Job.RunKey)
	j := &jobActor{set: set, sc: p.Score, profiles: p.Profiles, job: p.Run.Job, log: d.Log,
		store: d.Store}
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
		j.sheets = append(j.sheets, &sheetState{row: row, sh: sh})
	}
	j.buildIndex()
	return j
}

func newSheetRow(runKey string, sh score.Sheet, profiles map[string]*instrument.Profile) store.SheetRow {
	return store.SheetRow{RunKey: runKey, Num: sh.Num, Stage: sh.Stage.ID, Voice: sh.Voice, VoiceCount: sh.VoiceCount,
		Instrument: profiles[sh.Stage.Instrument].Name, Model: sh.Stage.Model, Status: SheetPending}
}

func baseEnv() []string { return os.Environ() }
