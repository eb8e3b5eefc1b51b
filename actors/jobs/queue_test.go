package jobs

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

func TestPickAdmissions(t *testing.T) {
	tests := []struct {
		name  string
		queue []candidate
		lim   queueLimits
		want  []string
	}{
		{"FIFO within a priority", []candidate{{id: "b", seq: 2}, {id: "a", seq: 1}, {id: "c", seq: 3}},
			queueLimits{maxJobs: 2}, []string{"a", "b"}},
		{"higher priority first", []candidate{{id: "a", seq: 1}, {id: "b", seq: 2, priority: 5}, {id: "c", seq: 3, priority: -1}},
			queueLimits{maxJobs: 1}, []string{"b"}},
		{"jobs that ran before a restart go first", []candidate{{id: "a", seq: 1, priority: 9}, {id: "r", seq: -5}},
			queueLimits{maxJobs: 1}, []string{"r"}},
		{"no slot left", []candidate{{id: "a", seq: 1}}, queueLimits{maxJobs: 2, running: 2}, nil},
		{"a full group is passed over", []candidate{{id: "g1", seq: 1, group: "g"}, {id: "g2", seq: 2, group: "g"}, {id: "x", seq: 3}},
			queueLimits{maxJobs: 5, groupLimit: map[string]int{"g": 1}}, []string{"g1", "x"}},
		{"a group's running jobs count", []candidate{{id: "g2", seq: 2, group: "g"}},
			queueLimits{maxJobs: 5, running: 1, groupLimit: map[string]int{"g": 1}, groupRunning: map[string]int{"g": 1}}, nil},
		{"a group without a limit is unlimited", []candidate{{id: "a", seq: 1, group: "free"}, {id: "b", seq: 2, group: "free"}},
			queueLimits{maxJobs: 5, groupLimit: map[string]int{"g": 1}}, []string{"a", "b"}},
		{"a waiting job is not admitted", []candidate{{id: "a", seq: 1, waiting: true, priority: 3}, {id: "b", seq: 2}},
			queueLimits{maxJobs: 1}, []string{"b"}},
		{"a paused job holds no slot", []candidate{{id: "p", seq: 1, paused: true}, {id: "b", seq: 2}},
			queueLimits{maxJobs: 1}, []string{"p", "b"}},
		{"a paused job behind the last free slot is still admitted", []candidate{{id: "b", seq: 1}, {id: "c", seq: 2},
			{id: "p", seq: 3, paused: true}}, queueLimits{maxJobs: 1}, []string{"b", "p"}},
		{"a paused job is admitted when every slot is taken", []candidate{{id: "b", seq: 1}, {id: "p", seq: 2, paused: true},
			{id: "q", seq: 3, paused: true, waiting: true}}, queueLimits{maxJobs: 1, running: 1}, []string{"p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pickAdmissions(tt.queue, tt.lim); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pickAdmissions = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDepVerdict(t *testing.T) {
	states := map[string]messages.JobState{"ok": messages.JobCompleted, "bad": messages.JobFailed,
		"gone": messages.JobCancelled, "run": messages.JobRunning, "q": messages.JobQueued}
	state := func(id string) (messages.JobState, bool) { st, ok := states[id]; return st, ok }
	tests := []struct {
		after      []string
		any        bool
		wantWait   []string
		wantCancel string
	}{
		{[]string{"ok"}, false, nil, ""},
		{[]string{"ok", "run", "q"}, false, []string{"run", "q"}, ""},
		{[]string{"run", "bad"}, false, nil, "job bad it runs after failed"},
		{[]string{"gone"}, false, nil, "job gone it runs after cancelled"},
		{[]string{"bad", "gone", "ok"}, true, nil, ""},
		{[]string{"bad", "run"}, true, []string{"run"}, ""},
		{[]string{"pruned"}, false, nil, "job pruned it runs after is no longer known"},
		{[]string{"pruned"}, true, nil, ""},
	}
	for _, tt := range tests {
		wait, cancel := depVerdict(tt.after, tt.any, state)
		if !reflect.DeepEqual(wait, tt.wantWait) || cancel != tt.wantCancel {
			t.Errorf("depVerdict(%v, any=%v) = %v, %q; want %v, %q", tt.after, tt.any, wait, cancel, tt.wantWait, tt.wantCancel)
		}
	}
}

func TestDependencyCycle(t *testing.T) {
	graph := map[string][]string{"b": {"c"}, "c": {"a"}, "d": {"e"}, "e": {"d"}}
	after := func(id string) []string { return graph[id] }
	tests := []struct {
		id   string
		deps []string
		want []string
	}{
		{"a", []string{"a"}, []string{"a", "a"}},
		{"a", []string{"b"}, []string{"a", "b", "c", "a"}},
		{"x", []string{"b"}, nil},
		{"x", []string{"d"}, nil}, // a cycle elsewhere is not this job's
		{"x", nil, nil},
	}
	for _, tt := range tests {
		if got := dependencyCycle(tt.id, tt.deps, after); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("dependencyCycle(%s, %v) = %v, want %v", tt.id, tt.deps, got, tt.want)
		}
	}
}

// A job submitted with --after while the job it runs after finishes: the
// store read at its parse still says running, and the finished job left the
// live jobs before the new one joined them. The finish must win, or the
// job waits forever (or is cancelled as "no longer known").
func TestDependencyFinishedDuringSubmission(t *testing.T) {
	a := &Actor{jobs: map[string]*entry{}}
	a.queue.outcomes = map[string]messages.JobState{}
	a.noteOutcome("f", messages.JobFailed) // nobody waits for f yet
	a.forgetOutcomes()                     // another job settles meanwhile
	a.rememberDepStates(map[string]messages.JobState{"f": messages.JobRunning, "g": messages.JobCompleted})
	if st, known := a.depState("f"); !known || st != messages.JobFailed {
		t.Fatalf("f: %s, %v; want failed (finished during the submission)", st, known)
	}
	if st, known := a.depState("g"); !known || st != messages.JobCompleted {
		t.Fatalf("g: %s, %v; want completed (from the store)", st, known)
	}
	a.forgetOutcomes()
	if st, known := a.depState("f"); !known || st != messages.JobFailed {
		t.Fatalf("f after a prune: %s, %v; want failed", st, known)
	}
}

// The recent outcomes are bounded: a conductor running jobs for months
// keeps the last few thousand.
func TestFinishedOutcomesBounded(t *testing.T) {
	a := &Actor{jobs: map[string]*entry{}}
	a.queue.outcomes = map[string]messages.JobState{}
	for i := range maxFinishedOutcomes + 10 {
		a.noteOutcome(fmt.Sprintf("j%d", i), messages.JobCompleted)
	}
	a.noteOutcome("j20", messages.JobFailed) // again: not counted twice
	if n := len(a.queue.finished); n != maxFinishedOutcomes || len(a.queue.finishedOrder) != n {
		t.Fatalf("%d outcomes (%d in order), want %d", n, len(a.queue.finishedOrder), maxFinishedOutcomes)
	}
	if _, known := a.depState("j0"); known {
		t.Error("the oldest outcome is still kept")
	}
	if st, _ := a.depState("j20"); st != messages.JobFailed {
		t.Errorf("j20: %s, want its latest outcome, failed", st)
	}
}

// BenchmarkPickAdmissionsFull is admission after a submit to a long queue
// whose slots are all taken.
func BenchmarkPickAdmissionsFull(b *testing.B) {
	queue := make([]candidate, 1000)
	for i := range queue {
		queue[i] = candidate{id: fmt.Sprintf("q%04d", i), seq: int64(i), priority: int64(i % 3)}
	}
	for b.Loop() {
		if got := pickAdmissions(queue, queueLimits{maxJobs: 2, running: 2}); len(got) != 0 {
			b.Fatalf("admitted %v", got)
		}
	}
}

// BenchmarkPickAdmissionsOneFree is admission after a job ends in a long
// queue: one slot free, 1,000 queued.
func BenchmarkPickAdmissionsOneFree(b *testing.B) {
	queue := make([]candidate, 1000)
	for i := range queue {
		queue[i] = candidate{id: fmt.Sprintf("q%04d", i), seq: int64(i), priority: int64(i % 3)}
	}
	for b.Loop() {
		if got := pickAdmissions(queue, queueLimits{maxJobs: 2, running: 1}); len(got) != 1 {
			b.Fatalf("admitted %v", got)
		}
	}
}
