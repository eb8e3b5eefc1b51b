package jobs

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
)

func TestPlanClean(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	run := func(id string, n int, age time.Duration, ws string) store.FinishedRun {
		return store.FinishedRun{RunKey: id + "." + string(rune('0'+n)), JobID: id, Run: n, FinishedAt: now.Add(-age),
			ScorePath: "/s/" + id + ".toml", Workspace: ws}
	}
	def := func(id string) string { return "/s/workspaces/" + id }
	// Newest first.
	runs := []store.FinishedRun{
		run("a", 2, time.Hour, def("a")),
		run("b", 1, 2*time.Hour, "/home/me/project"), // a workspace the score named
		run("c", 3, 3*time.Hour, def("c")),           // id c is active (run 4 runs)
		run("a", 1, 10*24*time.Hour, def("a")),       // shares its workspace with a.2
		run("d", 1, 20*24*time.Hour, def("d")),
	}
	ids := func(p cleanPlan) (out []string) {
		for _, r := range p.runs {
			out = append(out, r.RunKey)
		}
		return out
	}
	active := map[string]bool{"c": true}
	for _, tc := range []struct {
		name       string
		cutoff     time.Time
		keep       int
		want       []string
		workspaces []string
	}{
		{"everything finished but the active id", time.Time{}, 0, []string{"a.2", "b.1", "a.1", "d.1"}, []string{def("a"), def("d")}},
		{"older than a week", now.Add(-7 * 24 * time.Hour), 0, []string{"a.1", "d.1"}, []string{def("d")}},
		{"keep the newest two", time.Time{}, 2, []string{"a.1", "d.1"}, []string{def("d")}},
	} {
		p := planClean(runs, active, map[string]bool{def("c"): true}, tc.cutoff, tc.keep)
		if got := ids(p); !equal(got, tc.want) {
			t.Errorf("%s: runs %v, want %v", tc.name, got, tc.want)
		}
		if len(p.workspaces) != len(tc.workspaces) {
			t.Errorf("%s: workspaces %v, want %v", tc.name, p.workspaces, tc.workspaces)
		}
		for _, w := range tc.workspaces {
			if !p.workspaces[w] {
				t.Errorf("%s: workspace %s kept, want removed (%v)", tc.name, w, p.workspaces)
			}
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
