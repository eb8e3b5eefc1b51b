package jobs

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/monitor"
)

func TestSlots(t *testing.T) {
	t0 := time.Unix(1_760_000_000, 0)
	pid := func(job string) *actor.PID { return actor.NewPID("local", job) }
	req := func(job string, num int, inst string, maxConc int) *slotRequest {
		return &slotRequest{jobID: job, num: num, instrument: inst, maxConcurrent: maxConc, job: pid(job)}
	}
	// step is one thing fed to the slots, then a grant round at `at`.
	type step struct {
		do     func(s *slots)
		at     time.Duration
		grants []string // "job/num", in order
		wake   time.Duration
	}
	names := func(gs []slotGrant) []string {
		out := []string{}
		for _, g := range gs {
			out = append(out, fmt.Sprintf("%s/%d", g.job.Id, g.num))
		}
		return out
	}
	cases := []struct {
		name  string
		max   int
		steps []step
	}{
		{"grants in request order, across jobs", 10, []step{{
			do: func(s *slots) {
				s.request(req("b", 1, "shell", 0))
				s.request(req("a", 2, "shell", 0))
				s.request(req("a", 1, "shell", 0))
			},
			grants: []string{"b/1", "a/2", "a/1"}}}},
		{"max_concurrent_sheets caps what is held; the rest keep their place", 2, []step{
			{do: func(s *slots) {
				for i := 1; i <= 4; i++ {
					s.request(req("a", i, "shell", 0))
				}
			}, grants: []string{"a/1", "a/2"}},
			{do: func(s *slots) { s.release("a", 2) }, grants: []string{"a/3"}},
			{do: func(s *slots) {}, grants: []string{}},
			{do: func(s *slots) { s.release("a", 1); s.release("a", 3) }, grants: []string{"a/4"}}}},
		{"an instrument's max_concurrent caps it; other instruments go past", 10, []step{
			{do: func(s *slots) {
				s.request(req("a", 1, "claude", 1))
				s.request(req("a", 2, "claude", 1))
				s.request(req("a", 3, "shell", 0))
			}, grants: []string{"a/1", "a/3"}},
			{do: func(s *slots) { s.release("a", 1) }, grants: []string{"a/2"}}}},
		{"a rate-limited instrument waits for its window; a wake is asked for its end", 10, []step{
			{do: func(s *slots) {
				s.rateLimit("claude", t0.Add(time.Minute))
				s.request(req("a", 1, "claude", 0))
				s.request(req("a", 2, "shell", 0))
			}, grants: []string{"a/2"}, wake: time.Minute},
			{do: func(s *slots) {}, at: time.Minute, grants: []string{"a/1"}}}},
		{"a rate-limit window only grows", 10, []step{
			{do: func(s *slots) {
				s.rateLimit("claude", t0.Add(time.Minute))
				s.rateLimit("claude", t0.Add(time.Second))
				s.request(req("a", 1, "claude", 0))
			}, at: 30 * time.Second, grants: []string{}, wake: time.Minute}}},
		{"high pressure grants nothing; it resumes when pressure falls", 10, []step{
			{do: func(s *slots) {
				s.pressure = monitor.High
				s.request(req("a", 1, "shell", 0))
			}, grants: []string{}},
			{do: func(s *slots) { s.pressure = monitor.Critical }, grants: []string{}},
			{do: func(s *slots) { s.pressure = monitor.None }, grants: []string{"a/1"}}}},
		{"low pressure spaces starts out", 10, []step{
			{do: func(s *slots) {
				s.pressure = monitor.Low
				s.request(req("a", 1, "shell", 0))
				s.request(req("a", 2, "shell", 0))
			}, grants: []string{"a/1"}, wake: 200 * time.Millisecond},
			{do: func(s *slots) {}, at: 200 * time.Millisecond, grants: []string{"a/2"}}}},
		{"cancel drops a job's waiters, not its held slots nor other jobs' waiters", 1, []step{
			{do: func(s *slots) {
				s.request(req("a", 1, "shell", 0))
				s.request(req("a", 2, "shell", 0))
				s.request(req("b", 1, "shell", 0))
			}, grants: []string{"a/1"}},
			{do: func(s *slots) { s.cancel("a") }, grants: []string{}},
			{do: func(s *slots) { s.release("a", 1) }, grants: []string{"b/1"}}}},
		{"releaseJob gives back what a job holds and drops its waiters", 2, []step{
			{do: func(s *slots) {
				s.request(req("a", 1, "claude", 1))
				s.request(req("a", 2, "shell", 0))
				s.request(req("a", 3, "shell", 0))
				s.request(req("b", 1, "claude", 1))
			}, grants: []string{"a/1", "a/2"}},
			{do: func(s *slots) { s.releaseJob("a") }, grants: []string{"b/1"}}}},
		{"release of a slot not held changes nothing", 1, []step{
			{do: func(s *slots) { s.request(req("a", 1, "shell", 0)) }, grants: []string{"a/1"}},
			{do: func(s *slots) { s.release("a", 7); s.release("z", 1); s.request(req("a", 2, "shell", 0)) }, grants: []string{}}}},
		{"closed (draining): nothing is granted, waiters are forgotten", 10, []step{
			{do: func(s *slots) {
				s.request(req("a", 1, "shell", 0))
				s.close()
				s.request(req("a", 2, "shell", 0))
			}, grants: []string{}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSlots(c.max)
			for i, st := range c.steps {
				st.do(s)
				grants, wake := s.grant(t0.Add(st.at))
				if got := names(grants); !slices.Equal(got, st.grants) {
					t.Fatalf("step %d: granted %v, want %v", i+1, got, st.grants)
				}
				var wantWake time.Time
				if st.wake > 0 {
					wantWake = t0.Add(st.wake)
				}
				if !wake.Equal(wantWake) {
					t.Fatalf("step %d: wake at %v, want %v", i+1, wake, wantWake)
				}
				held := 0
				for _, n := range s.perInst {
					held += n
				}
				if held != len(s.held) {
					t.Fatalf("step %d: per-instrument counts %v disagree with %d held", i+1, s.perInst, len(s.held))
				}
			}
		})
	}
}
