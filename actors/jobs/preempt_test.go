package jobs

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/monitor"
)

func TestPickPreemption(t *testing.T) {
	t0 := time.Unix(1_750_000_000, 0)
	cand := func(job string, num int, grantedSec int, memMB float64, procs int) preemptCandidate {
		return preemptCandidate{JobID: job, Num: num, GrantedAt: t0.Add(time.Duration(grantedSec) * time.Second),
			MemoryMB: memMB, Processes: procs}
	}
	procsCritical := monitor.Usage{MemoryMB: 900, MemoryLimitMB: 8192, Processes: 4900, ProcessLimit: 5120}
	memCritical := monitor.Usage{MemoryMB: 7900, MemoryLimitMB: 8192, Processes: 30, ProcessLimit: 512}
	tests := []struct {
		name     string
		cands    []preemptCandidate
		usage    monitor.Usage
		wantJob  string
		wantNum  int
		wantNote string
	}{
		{
			name: "the fork bomb, not the youngest bystander",
			cands: []preemptCandidate{
				cand("X", 3, 0, 40, 4812),
				cand("Y", 1, 10, 300, 3), // youngest, and more memory
			},
			usage: procsCritical, wantJob: "X", wantNum: 3,
			wantNote: "sheet 3 of job X preempted: 4,812 processes, 94% of max_processes",
		},
		{
			name: "the memory hog when memory is the critical limit",
			cands: []preemptCandidate{
				cand("X", 3, 0, 40, 25),
				cand("Y", 2, 5, 7100, 2),
				cand("Z", 1, 10, 500, 1),
			},
			usage: memCritical, wantJob: "Y", wantNum: 2,
			wantNote: "sheet 2 of job Y preempted: 7,100 MB, 87% of max_memory_mb",
		},
		{
			name: "a tie goes to the youngest",
			cands: []preemptCandidate{
				cand("A", 1, 0, 100, 2),
				cand("B", 1, 20, 100, 2),
				cand("C", 1, 10, 100, 2),
			},
			usage: memCritical, wantJob: "B", wantNum: 1,
			wantNote: "sheet 1 of job B preempted: 100 MB, 1% of max_memory_mb",
		},
		{
			name: "a sheet preempted twice lately is passed over for the next culprit",
			cands: []preemptCandidate{
				{JobID: "X", Num: 3, GrantedAt: t0, MemoryMB: 7000, Recent: 2},
				cand("Y", 2, 5, 600, 2),
				cand("Z", 1, 10, 500, 1),
			},
			usage: memCritical, wantJob: "Y", wantNum: 2,
			wantNote: "sheet 2 of job Y preempted: 600 MB, 7% of max_memory_mb",
		},
		{
			name: "a sheet preempted once lately can still be chosen",
			cands: []preemptCandidate{
				{JobID: "X", Num: 3, GrantedAt: t0, MemoryMB: 7000, Recent: 1},
				cand("Y", 2, 5, 600, 2),
			},
			usage: memCritical, wantJob: "X", wantNum: 3,
			wantNote: "sheet 3 of job X preempted: 7,000 MB, 85% of max_memory_mb",
		},
		{
			name: "nothing measured: the youngest, said so",
			cands: []preemptCandidate{
				cand("A", 1, 0, 0, 0),
				cand("A", 2, 30, 0, 0),
			},
			usage: procsCritical, wantJob: "A", wantNum: 2,
			wantNote: "sheet 2 of job A preempted: the youngest running sheet (no sheet's use is measured yet)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pickPreemption(tt.cands, tt.usage)
			if !ok {
				t.Fatal("no choice")
			}
			if got.JobID != tt.wantJob || got.Num != tt.wantNum {
				t.Errorf("picked sheet %d of job %s, want sheet %d of job %s", got.Num, got.JobID, tt.wantNum, tt.wantJob)
			}
			if got.Note != tt.wantNote {
				t.Errorf("note %q\nwant %q", got.Note, tt.wantNote)
			}
		})
	}
	if _, ok := pickPreemption([]preemptCandidate{{JobID: "X", Num: 1, MemoryMB: 7000, Recent: 2}}, memCritical); ok {
		t.Error("preempted a sheet already preempted twice within the window")
	}
	if _, ok := pickPreemption(nil, procsCritical); ok {
		t.Error("picked a sheet when none runs")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 4812: "4,812", 1234567: "1,234,567", -4812: "-4,812"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPreemptCandidatesMatchUnitsByLeader: the monitor's per-try reading
// reaches the try whose leader it is; a try not measured yet (no process, or
// no unit) is still a candidate, with nothing used.
func TestPreemptCandidatesMatchUnitsByLeader(t *testing.T) {
	now := time.Now()
	a := &Actor{
		slots: &slots{held: map[slotKey]heldSlot{
			{"X", 3}: {grantedAt: now},
			{"Y", 1}: {grantedAt: now.Add(time.Second)},
			{"Y", 2}: {grantedAt: now.Add(2 * time.Second)},
		}},
		running: map[slotKey]*RunningSheet{
			{"X", 3}: {JobID: "X", Num: 3, PID: 300},
			{"Y", 1}: {JobID: "Y", Num: 1, PID: 100},
		},
	}
	u := monitor.Usage{Units: []monitor.Unit{
		{Leader: 300, MemoryBytes: 40 << 20, Processes: 4812},
		{Leader: 100, MemoryBytes: 300 << 20, Processes: 3},
		{Leader: 999, MemoryBytes: 1 << 30, Processes: 1}, // not a try (a leftover)
	}}
	got := map[slotKey]preemptCandidate{}
	for _, c := range a.preemptCandidates(u) {
		got[slotKey{c.JobID, c.Num}] = c
	}
	want := map[slotKey][2]float64{{"X", 3}: {40, 4812}, {"Y", 1}: {300, 3}, {"Y", 2}: {0, 0}}
	if len(got) != len(want) {
		t.Fatalf("%d candidates, want %d: %+v", len(got), len(want), got)
	}
	for k, w := range want {
		if c := got[k]; c.MemoryMB != w[0] || float64(c.Processes) != w[1] {
			t.Errorf("%v: %.0f MB, %d processes; want %.0f MB, %.0f", k, c.MemoryMB, c.Processes, w[0], w[1])
		}
	}
}

// The damping history counts tries, not requests, and forgets what is older
// than the window.
func TestPreemptionHistory(t *testing.T) {
	a := &Actor{}
	k := slotKey{"X", 1}
	t0 := time.Unix(1_750_000_000, 0)
	g1, g2 := t0, t0.Add(20*time.Second)
	a.recordPreemption(k, g1, t0)
	a.recordPreemption(k, g1, t0.Add(5*time.Second)) // the same try, still dying
	if n := len(a.preempted[k]); n != 1 {
		t.Fatalf("one try asked twice: %d marks, want 1", n)
	}
	a.recordPreemption(k, g2, t0.Add(30*time.Second))
	if n := len(a.preempted[k]); n != 2 {
		t.Fatalf("two tries: %d marks, want 2", n)
	}
	a.forgetPreemptions(t0.Add(preemptWindow + time.Second))
	if n := len(a.preempted[k]); n != 1 {
		t.Fatalf("after the window of the first: %d marks, want 1", n)
	}
	a.forgetPreemptions(t0.Add(preemptWindow + time.Minute))
	if _, ok := a.preempted[k]; ok {
		t.Fatal("history kept a sheet with no recent preemption")
	}
}
