package fleet

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"time"
)

// Capacity is what this member can take on now.
type Capacity struct {
	FreeJobs      int64
	FreeSheets    int64
	RunningJobs   int64
	RunningSheets int64
	Pressure      string
	PressureHigh  bool // at or above the high threshold: no new work
	// Instruments maps every instrument whose executable is found here to
	// its free sheet slots.
	Instruments map[string]int64
}

// candidate is a job nobody holds a claim on.
type candidate struct {
	job    Job
	modRev int64
}

// pick chooses the job this member claims next: the highest priority, then
// the oldest, among those it can run. pending counts claims won but not yet
// seen running here (they use a job slot already). It returns -1 and why
// when it claims nothing.
func pick(me string, c Capacity, pending int64, cands []candidate) (int, string) {
	switch {
	case c.PressureHigh:
		return -1, "pressure " + c.Pressure
	case c.FreeJobs-pending <= 0:
		return -1, "no free job slot"
	case c.FreeSheets <= 0:
		return -1, "no free sheet slot"
	}
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ja, jb := cands[a].job, cands[b].job
		if ja.Priority != jb.Priority {
			return cmp.Compare(jb.Priority, ja.Priority)
		}
		if !ja.Submitted.Equal(jb.Submitted) {
			return ja.Submitted.Compare(jb.Submitted)
		}
		return cmp.Compare(ja.ID, jb.ID)
	})
	why := "nothing queued"
	for _, i := range order {
		j := cands[i].job
		if j.State == StateRunning && !j.Replace && j.Member != "" && j.Member != me {
			why = "job " + j.ID + " waits for member " + j.Member + " (fleet_replace = false)"
			continue
		}
		if missing := missingInstrument(j.Instruments, c.Instruments); missing != "" {
			why = "job " + j.ID + " needs instrument " + missing
			continue
		}
		return i, ""
	}
	return -1, why
}

// missingInstrument names the first instrument that is not here or has no
// free slot.
func missingInstrument(need []string, have map[string]int64) string {
	for _, n := range need {
		if have[n] <= 0 {
			return n
		}
	}
	return ""
}

// claimDelay is how long a member waits before claiming: up to 25 ms by the
// share of its job slots in use, and a few ms of chance to break ties.
func claimDelay(c Capacity) time.Duration {
	busy := 0.0
	if total := c.RunningJobs + c.FreeJobs; total > 0 {
		busy = float64(c.RunningJobs) / float64(total)
	}
	return time.Duration(busy*25*float64(time.Millisecond)) + time.Duration(rand.IntN(5000))*time.Microsecond
}
