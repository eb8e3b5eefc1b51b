package fleet

import (
	"testing"
	"time"
)

func TestPick(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	free := Capacity{FreeJobs: 2, FreeSheets: 4, Pressure: "none", Instruments: map[string]int64{"shell": 4, "claude-code": 1}}
	job := func(id string, prio int64, at int, insts ...string) candidate {
		return candidate{job: Job{ID: id, Priority: prio, Submitted: t0.Add(time.Duration(at) * time.Second),
			Instruments: insts, State: StateQueued, Replace: true}}
	}
	orphan := func(id, member string, replace bool) candidate {
		c := job(id, 0, 0, "shell")
		c.job.State, c.job.Member, c.job.Replace = StateRunning, member, replace
		return c
	}
	tests := []struct {
		name    string
		cap     Capacity
		pending int64
		cands   []candidate
		want    string // job id, "" = none
		why     string
	}{
		{"nothing queued", free, 0, nil, "", "nothing queued"},
		{"oldest first", free, 0, []candidate{job("b", 0, 2, "shell"), job("a", 0, 1, "shell")}, "a", ""},
		{"priority beats age", free, 0, []candidate{job("old", 0, 1, "shell"), job("urgent", 5, 9, "shell")}, "urgent", ""},
		{"high pressure claims nothing", Capacity{FreeJobs: 2, FreeSheets: 4, PressureHigh: true, Pressure: "high"}, 0,
			[]candidate{job("a", 0, 1, "shell")}, "", "pressure high"},
		{"claims in flight use the job slots", free, 2, []candidate{job("a", 0, 1, "shell")}, "", "no free job slot"},
		{"no sheet slot", Capacity{FreeJobs: 2, FreeSheets: 0}, 0, []candidate{job("a", 0, 1, "shell")}, "", "no free sheet slot"},
		{"missing executable: skipped, the next one taken", free, 0,
			[]candidate{job("gem", 9, 1, "gemini-cli"), job("sh", 0, 2, "shell")}, "sh", ""},
		{"missing executable only", free, 0, []candidate{job("gem", 0, 1, "gemini-cli")}, "", "job gem needs instrument gemini-cli"},
		{"an instrument with no free slot", Capacity{FreeJobs: 2, FreeSheets: 4, Instruments: map[string]int64{"claude-code": 0}}, 0,
			[]candidate{job("c", 0, 1, "claude-code")}, "", "job c needs instrument claude-code"},
		{"orphan of a gone member is placed again", free, 0, []candidate{orphan("o", "b", true)}, "o", ""},
		{"orphan with fleet_replace = false waits for its member", free, 0, []candidate{orphan("o", "b", false)}, "",
			"job o waits for member b (fleet_replace = false)"},
		{"its own member takes it back", free, 0, []candidate{orphan("o", "me", false)}, "o", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, why := pick("me", tt.cap, tt.pending, tt.cands)
			got := ""
			if i >= 0 {
				got = tt.cands[i].job.ID
			}
			if got != tt.want || why != tt.why {
				t.Errorf("pick = %q (%q), want %q (%q)", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestClaimDelayFavoursTheIdle(t *testing.T) {
	idle := Capacity{FreeJobs: 4}
	busy := Capacity{RunningJobs: 3, FreeJobs: 1}
	for range 100 {
		if i, b := claimDelay(idle), claimDelay(busy); i >= 5*time.Millisecond || b < 18*time.Millisecond || b >= 24*time.Millisecond {
			t.Fatalf("idle waits %v, 3/4 busy %v", i, b)
		}
	}
}
