package jobs

import (
	"strconv"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/correlation"
	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/messages"
)

// etaJob is a job of three stages (a: two voices, b after a, c after b) with
// every sheet pending, for the ETA simulation.
func etaJob(t *testing.T, parallel int) *jobActor {
	t.Helper()
	src := []byte(`id = "eta"
[defaults]
instrument = "shell"
[run]
max_parallel = ` + strconv.Itoa(parallel) + `
[[stage]]
id = "a"
voices = 2
prompt = "x"
[[stage]]
id = "b"
prompt = "x"
[[stage]]
id = "c"
prompt = "x"
`)
	sc, err := score.Parse("/scores/eta.toml", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	j := &jobActor{sc: sc, job: store.JobRow{JobID: "eta", ScoreKey: "eta"}}
	for _, sh := range sc.Sheets() {
		j.sheets = append(j.sheets, &sheetState{sh: sh, row: store.SheetRow{Num: sh.Num, Stage: sh.Stage.ID,
			Instrument: "shell", Status: messages.SheetPending}})
	}
	return j
}

func etaStats(stages map[string]time.Duration) *correlation.Stats {
	s := &correlation.Stats{ByKey: map[correlation.Key]*correlation.StageStats{}}
	for stage, d := range stages {
		k := correlation.Key{Score: "eta", Stage: stage, Instrument: "shell"}
		s.ByKey[k] = &correlation.StageStats{Key: k, P10: d / 2, P50: d, P90: 2 * d}
	}
	return s
}

func TestETASimulation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	stats := etaStats(map[string]time.Duration{"a": 10 * time.Second, "b": 20 * time.Second, "c": 5 * time.Second})
	p50 := func(st *correlation.StageStats) time.Duration { return st.P50 }
	cases := []struct {
		name     string
		parallel int
		setup    func(j *jobActor)
		want     time.Duration
	}{
		{"voices in parallel, then the chain", 2, func(*jobActor) {}, 35 * time.Second},
		{"one slot: everything in a row", 1, func(*jobActor) {}, 45 * time.Second},
		{"a running try counts what is left of it", 2, func(j *jobActor) {
			j.sheets[0].row.Status, j.sheets[0].row.StartedAt = messages.SheetRunning, now.Add(-4*time.Second)
		}, 35 * time.Second},
		{"a finished voice leaves the other", 1, func(j *jobActor) {
			j.sheets[0].row.Status = messages.SheetCompleted
		}, 35 * time.Second},
		{"below a failed sheet nothing runs", 2, func(j *jobActor) {
			j.sheets[1].row.Status = messages.SheetFailed
		}, 10 * time.Second},
		{"a retry waits out its backoff first", 2, func(j *jobActor) {
			j.sheets[0].row.Status, j.sheets[0].row.WaitingUntil = messages.SheetWaiting, now.Add(3*time.Second)
		}, 38 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := etaJob(t, c.parallel)
			c.setup(j)
			got, ok := j.simulate(stats, p50, c.parallel, now)
			if !ok || got != c.want {
				t.Fatalf("simulate = %s, %v; want %s", got, ok, c.want)
			}
		})
	}
	t.Run("a stage without history: no estimate", func(t *testing.T) {
		j := etaJob(t, 2)
		if _, ok := j.simulate(etaStats(map[string]time.Duration{"a": time.Second}), p50, 2, now); ok {
			t.Fatal("an estimate without history for stages b and c")
		}
	})
	t.Run("low, expected and high from p10, p50 and p90", func(t *testing.T) {
		j := etaJob(t, 2)
		j.set.maxSheets = 25
		eta, low, high, ok := j.estimate(stats, now)
		if !ok || eta != 35*time.Second || low != 17500*time.Millisecond || high != 70*time.Second {
			t.Fatalf("estimate = %s (%s-%s), %v; want 35s (17.5s-1m10s)", eta, low, high, ok)
		}
	})
}
