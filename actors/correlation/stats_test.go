package correlation

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

var statsNow = time.Unix(1_760_000_000, 0)

func try(job, stage, instrument, outcome string, dur time.Duration, errMsg string) store.FinishedTry {
	return store.FinishedTry{JobID: job, JobName: job + " name", Stage: stage, Instrument: instrument,
		Outcome: messages.AttemptOutcome(outcome), Duration: dur, Error: errMsg, FinishedAt: statsNow}
}

func lookup(t *testing.T, s *Stats, k Key) *StageStats {
	t.Helper()
	st, ok := s.Lookup(k)
	if !ok {
		t.Fatalf("no statistics for %+v", k)
	}
	return st
}

func TestComputeCountsPerKey(t *testing.T) {
	tries := []store.FinishedTry{
		try("j", "build", "shell", "completed", time.Second, ""),
		try("j", "build", "shell", "failed", time.Second, "exit code 1: boom"),
		try("j", "build", "shell", "completed", time.Second, ""),
		try("j", "build", "claude-code", "timed_out", time.Second, ""), // same stage, other instrument
		try("j", "test", "shell", "stalled", time.Second, "stalled: no progress"),
		try("k", "build", "shell", "completed", time.Second, ""), // other score
	}
	tries[2].Profile.Stalled = true // completed after a stall
	s := Compute(tries, statsNow)
	if !s.ComputedAt.Equal(statsNow) {
		t.Errorf("ComputedAt = %v, want %v", s.ComputedAt, statsNow)
	}
	if len(s.ByKey) != 4 {
		t.Errorf("%d keys, want 4 (score, stage, instrument)", len(s.ByKey))
	}
	cases := []struct {
		k                               Key
		runs, completed, failed, stalls int
	}{
		{Key{"j", "build", "shell"}, 3, 2, 1, 1},
		{Key{"j", "build", "claude-code"}, 1, 0, 1, 0},
		{Key{"j", "test", "shell"}, 1, 0, 1, 1},
		{Key{"k", "build", "shell"}, 1, 1, 0, 0},
	}
	for _, c := range cases {
		st := lookup(t, s, c.k)
		if st.Key != c.k || st.Runs != c.runs || st.Completed != c.completed || st.Failed != c.failed || st.Stalls != c.stalls {
			t.Errorf("%+v: key %+v runs %d completed %d failed %d stalls %d; want %d %d %d %d", c.k, st.Key,
				st.Runs, st.Completed, st.Failed, st.Stalls, c.runs, c.completed, c.failed, c.stalls)
		}
	}
	if _, ok := s.Lookup(Key{"j", "deploy", "shell"}); ok {
		t.Error("Lookup found statistics for a key with no history")
	}
	var none *Stats
	if _, ok := none.Lookup(Key{"j", "build", "shell"}); ok {
		t.Error("Lookup on nil Stats found something")
	}
	if st := Compute(nil, statsNow); len(st.ByKey) != 0 {
		t.Errorf("Compute(nil) has %d keys", len(st.ByKey))
	}
}

func TestComputePercentiles(t *testing.T) {
	var tries []store.FinishedTry
	// Completed tries of 1..10 s, given out of order, with profiles.
	for _, s := range []int{7, 3, 10, 1, 5, 9, 2, 8, 6, 4} {
		tr := try("j", "build", "shell", "completed", time.Duration(s)*time.Second, "")
		tr.Profile.PeakRSSMB = float64(s * 100)
		tr.Profile.CPUSeconds = float64(s)
		tries = append(tries, tr)
	}
	// Failures are much longer and faster, but completed tries exist: they do not count.
	tries = append(tries, try("j", "build", "shell", "failed", time.Hour, "exit code 1"),
		try("j", "build", "shell", "timed_out", time.Millisecond, ""))
	st := lookup(t, Compute(tries, statsNow), Key{"j", "build", "shell"})
	if st.P10 != time.Second || st.P50 != 5*time.Second || st.P90 != 9*time.Second {
		t.Errorf("p10/p50/p90 = %v/%v/%v, want 1s/5s/9s (nearest rank of completed tries)", st.P10, st.P50, st.P90)
	}
	if st.PeakRSSP90MB != 900 || st.CPUSecondsP50 != 5 {
		t.Errorf("peak RSS p90 %v MB, CPU p50 %vs; want 900, 5", st.PeakRSSP90MB, st.CPUSecondsP50)
	}

	// No completed try: durations of every finished try.
	tries = nil
	for _, s := range []int{40, 10, 30, 20} {
		tries = append(tries, try("j", "flaky", "shell", "failed", time.Duration(s)*time.Second, "exit code 2"))
	}
	st = lookup(t, Compute(tries, statsNow), Key{"j", "flaky", "shell"})
	if st.P10 != 10*time.Second || st.P50 != 20*time.Second || st.P90 != 40*time.Second {
		t.Errorf("no completed try: p10/p50/p90 = %v/%v/%v, want 10s/20s/40s over all tries", st.P10, st.P50, st.P90)
	}
	if st.PeakRSSP90MB != 0 || st.CPUSecondsP50 != 0 {
		t.Errorf("no profiles: peak RSS p90 %v, CPU p50 %v; want 0", st.PeakRSSP90MB, st.CPUSecondsP50)
	}

	// One try: every percentile is it.
	st = lookup(t, Compute([]store.FinishedTry{try("j", "one", "shell", "completed", 3*time.Second, "")}, statsNow),
		Key{"j", "one", "shell"})
	if st.P10 != 3*time.Second || st.P50 != 3*time.Second || st.P90 != 3*time.Second {
		t.Errorf("one try: p10/p50/p90 = %v/%v/%v, want 3s each", st.P10, st.P50, st.P90)
	}

	// Profiles of zero (never sampled) stay out of the resource percentiles.
	tries = []store.FinishedTry{
		try("j", "p", "shell", "completed", time.Second, ""),
		try("j", "p", "shell", "completed", time.Second, ""),
		try("j", "p", "shell", "completed", time.Second, ""),
	}
	tries[0].Profile = store.Profile{PeakRSSMB: 50, CPUSeconds: 7}
	st = lookup(t, Compute(tries, statsNow), Key{"j", "p", "shell"})
	if st.PeakRSSP90MB != 50 || st.CPUSecondsP50 != 7 {
		t.Errorf("one profiled try of three: peak RSS p90 %v, CPU p50 %v; want 50, 7", st.PeakRSSP90MB, st.CPUSecondsP50)
	}
}

func TestFailureKind(t *testing.T) {
	cases := []struct{ outcome, msg, want string }{
		{"failed", "exit code 3: foo", "exit code 3"},
		{"failed", "exit code 3: bar", "exit code 3"},
		{"failed", "exit code 127", "exit code 127"},
		{"failed", "validation failed: file_exists: x", "validation failed: file_exists"},
		{"failed", "validation failed: file_exists: /some/other/path", "validation failed: file_exists"},
		{"failed", "validation failed: command_succeeds: make test", "validation failed: command_succeeds"},
		{"timed_out", "timed out after 30m0s", "timed out"},
		{"timed_out", "", "timed out"},
		{"stalled", "", "stalled"},
		{"failed", "stalled: no CPU progress and no new output for 10m0s", "stalled"},
		{"failed", "", "failed"},
		{"failed", "killed by signal 9", "killed by signal N"},
		{"failed", "rate limited for 30s: retry later", "rate limited for N"},
	}
	for _, c := range cases {
		if got := FailureKind(c.outcome, c.msg); got != c.want {
			t.Errorf("FailureKind(%q, %q) = %q, want %q", c.outcome, c.msg, got, c.want)
		}
	}
}

func TestComputeGroupsFailuresMostCommonFirst(t *testing.T) {
	var tries []store.FinishedTry
	add := func(n int, outcome, msg string) {
		for i := range n {
			tries = append(tries, try("j", "build", "shell", outcome, time.Second, fmt.Sprintf(msg, i)))
		}
	}
	add(4, "failed", "exit code 3: detail %d")
	add(3, "failed", "validation failed: file_exists: out-%d.txt")
	add(5, "timed_out", "timed out after %dm")
	add(2, "stalled", "stalled %d")
	add(1, "failed", "exit code 1: once %d")
	add(1, "failed", "exit code 2: once %d")
	add(6, "completed", "")

	st := lookup(t, Compute(tries, statsNow), Key{"j", "build", "shell"})
	want := []struct {
		reason string
		count  int64
	}{
		{"timed out", 5},
		{"exit code 3", 4},
		{"validation failed: file_exists", 3},
		{"stalled", 2},
		{"exit code 1", 1}, // ties: by reason; "exit code 2" is the sixth kind and left out
	}
	if len(st.Failures) != len(want) {
		t.Fatalf("%d failure kinds: %v; want the top %d", len(st.Failures), st.Failures, len(want))
	}
	for i, w := range want {
		if f := st.Failures[i]; f.GetReason() != w.reason || f.GetCount() != w.count {
			t.Errorf("failure %d = %q x%d, want %q x%d", i, f.GetReason(), f.GetCount(), w.reason, w.count)
		}
	}
	if st.Runs != 22 || st.Completed != 6 || st.Failed != 16 || st.Stalls != 2 {
		t.Errorf("runs %d completed %d failed %d stalls %d; want 22 6 16 2", st.Runs, st.Completed, st.Failed, st.Stalls)
	}

	ok := lookup(t, Compute(tries[len(tries)-6:], statsNow), Key{"j", "build", "shell"})
	if len(ok.Failures) != 0 {
		t.Errorf("only completed tries, failures %v; want none", ok.Failures)
	}
}

func TestToMessage(t *testing.T) {
	tries := []store.FinishedTry{
		try("j", "build", "shell", "completed", 2*time.Second, ""),
		try("j", "build", "shell", "completed", 4*time.Second, ""),
		try("j", "build", "shell", "completed", 6*time.Second, ""),
		try("j", "build", "shell", "failed", time.Second, "exit code 3: x"),
	}
	tries[0].Profile = store.Profile{PeakRSSMB: 128, CPUSeconds: 1.5, Stalled: true}
	st := lookup(t, Compute(tries, statsNow), Key{"j", "build", "shell"})
	m := st.ToMessage()
	if m.GetScore() != "j" || m.GetStage() != "build" || m.GetInstrument() != "shell" {
		t.Errorf("message names %q/%q/%q, want j/build/shell", m.GetScore(), m.GetStage(), m.GetInstrument())
	}
	if m.GetRuns() != 4 || m.GetCompleted() != 3 || m.GetFailed() != 1 || m.GetStalls() != 1 {
		t.Errorf("runs %d completed %d failed %d stalls %d; want 4 3 1 1", m.GetRuns(), m.GetCompleted(), m.GetFailed(), m.GetStalls())
	}
	if math.Abs(m.GetSuccessRate()-0.75) > 1e-12 {
		t.Errorf("success_rate = %v, want 0.75", m.GetSuccessRate())
	}
	if m.GetDurationP50Seconds() != 4 || m.GetDurationP90Seconds() != 6 {
		t.Errorf("duration p50/p90 = %v/%v s, want 4/6", m.GetDurationP50Seconds(), m.GetDurationP90Seconds())
	}
	if m.GetPeakRssP90Mb() != 128 || m.GetCpuSecondsP50() != 1.5 {
		t.Errorf("peak RSS p90 %v, CPU p50 %v; want 128, 1.5", m.GetPeakRssP90Mb(), m.GetCpuSecondsP50())
	}
	if f := m.GetFailures(); len(f) != 1 || f[0].GetReason() != "exit code 3" || f[0].GetCount() != 1 {
		t.Errorf("failures = %v, want [exit code 3 x1]", f)
	}
	if rate := (&StageStats{}).ToMessage().GetSuccessRate(); rate != 0 {
		t.Errorf("success_rate with no runs = %v, want 0", rate)
	}
}
