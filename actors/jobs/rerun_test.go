package jobs

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/config/score"
	"github.com/mzt-dev/mzt/messages"
)

// rerunScore is a pipeline draft (2 voices) -> review -> merge, and a side
// stage that depends on nothing; edit replaces text in it.
func rerunScore(t *testing.T, edit ...string) *score.Score {
	t.Helper()
	src := `[defaults]
instrument = "shell"
[[stage]]
id = "draft"
voices = 2
prompt = "draft"
[[stage]]
id = "review"
prompt = "review"
[[stage]]
id = "merge"
prompt = "merge"
[[stage]]
id = "side"
depends_on = []
prompt = "side"
`
	for i := 0; i+1 < len(edit); i += 2 {
		src = strings.Replace(src, edit[i], edit[i+1], 1)
	}
	sc, err := score.Parse("/tmp/r.toml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// rows of an earlier run of rerunScore: sheets 1-5 with the given statuses.
func rerunRows(st ...messages.SheetState) []store.SheetRow {
	keys := []struct {
		stage string
		voice int
	}{{"draft", 1}, {"draft", 2}, {"review", 1}, {"merge", 1}, {"side", 1}}
	out := make([]store.SheetRow, len(st))
	for i, s := range st {
		out[i] = store.SheetRow{RunKey: "old", Num: i + 1, Stage: keys[i].stage, Voice: keys[i].voice, Status: s, Attempts: 2, Tries: 2}
	}
	return out
}

func TestPlanRerun(t *testing.T) {
	const C, F, S = messages.SheetCompleted, messages.SheetFailed, messages.SheetSkipped
	allDone := rerunRows(C, C, C, C, C)
	mergeFailed := rerunRows(C, C, C, F, C)
	reviewFailed := rerunRows(C, C, F, S, C)
	for _, tc := range []struct {
		name    string
		edit    []string
		old     []store.SheetRow
		mode    rerunMode
		kept    []int // sheet numbers reused, in order
		changed []string
		err     string
	}{
		{"rescore, nothing edited: what failed runs", nil, mergeFailed, rerunMode{rescore: true}, []int{1, 2, 3, 5}, nil, ""},
		{"rescore, merge edited", []string{`prompt = "merge"`, `prompt = "merge2"`}, mergeFailed, rerunMode{rescore: true}, []int{1, 2, 3, 5}, []string{"merge"}, ""},
		{"rescore, draft edited: it and what depends on it run", []string{`prompt = "draft"`, `prompt = "draft2"`}, allDone, rerunMode{rescore: true}, []int{5}, []string{"draft"}, ""},
		{"from-stage review", nil, allDone, rerunMode{fromStage: "review"}, []int{1, 2}, nil, ""},
		{"from-stage merge: side comes after it in the file", nil, allDone, rerunMode{fromStage: "merge"}, []int{1, 2, 3}, nil, ""},
		{"from-stage with a typo", nil, allDone, rerunMode{fromStage: "reveiw"}, nil, nil, `no stage "reveiw" (did you mean "review"?)`},
		{"only-stage review keeps the rest as it was", nil, reviewFailed, rerunMode{onlyStage: "review"}, []int{1, 2, 4, 5}, nil, ""},
		{"retry sheet 2 alone", nil, allDone, rerunMode{retrySheet: 2}, []int{1, 3, 4, 5}, nil, ""},
		{"retry sheet 3 and downstream", nil, reviewFailed, rerunMode{retrySheet: 3, downstream: true}, []int{1, 2, 5}, nil, ""},
		{"retry sheet 3 alone leaves merge skipped", nil, reviewFailed, rerunMode{retrySheet: 3}, []int{1, 2, 4, 5}, nil, ""},
		{"retry a sheet the run does not have", nil, allDone, rerunMode{retrySheet: 9}, nil, nil, "no sheet 9 (it has 5)"},
		{"a stage added before side renumbers it; side is still reused", []string{"[[stage]]\nid = \"side\"", "[[stage]]\nid = \"extra\"\nprompt = \"x\"\n[[stage]]\nid = \"side\""},
			allDone, rerunMode{rescore: true}, []int{1, 2, 3, 4, 6}, []string{"extra"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := rerunScore(t)
			plan, err := planRerun(rerunScore(t, tc.edit...), old, tc.old, tc.mode)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kept []int
			for n := range plan.keep {
				kept = append(kept, n)
			}
			slices.Sort(kept)
			if !slices.Equal(kept, tc.kept) {
				t.Errorf("kept %v, want %v", kept, tc.kept)
			}
			var changed []string
			for _, c := range plan.changes {
				if c.Change != "unchanged" {
					changed = append(changed, c.Stage)
				}
			}
			if !slices.Equal(changed, tc.changed) {
				t.Errorf("changed %v, want %v", changed, tc.changed)
			}
		})
	}
}

// A stage removed from the score is reported; the old run's score failing
// to parse (old == nil) makes every stage new, so nothing is reused.
func TestPlanRerunRemovedAndUnreadable(t *testing.T) {
	rows := rerunRows(messages.SheetCompleted, messages.SheetCompleted, messages.SheetCompleted, messages.SheetCompleted, messages.SheetCompleted)
	plan, err := planRerun(rerunScore(t, "[[stage]]\nid = \"side\"\ndepends_on = []\nprompt = \"side\"\n", ""), rerunScore(t), rows, rerunMode{rescore: true})
	if err != nil {
		t.Fatal(err)
	}
	last := plan.changes[len(plan.changes)-1]
	if last.Stage != "side" || last.Change != "removed" || last.OldHash == "" || last.NewHash != "" {
		t.Errorf("last change %+v, want side removed", last)
	}
	if len(plan.keep) != 4 {
		t.Errorf("kept %d sheets, want 4", len(plan.keep))
	}
	plan, err = planRerun(rerunScore(t), nil, rows, rerunMode{rescore: true})
	if err != nil || len(plan.keep) != 0 {
		t.Errorf("with no readable old score: kept %d, err %v; want nothing kept", len(plan.keep), err)
	}
}

// Reused rows move to the new run under their new number and keep their
// outcome and attempts; nothing of the old process is carried over.
func TestKeptRow(t *testing.T) {
	r := keptRow(store.SheetRow{RunKey: "old", Num: 5, Status: messages.SheetCompleted, Attempts: 2, PID: 10, PGID: 10, ProcStart: 3, OutputTail: "out"}, "new", 6)
	if r.RunKey != "new" || r.Num != 6 || r.Status != messages.SheetCompleted || r.Attempts != 2 || r.PID != 0 || r.PGID != 0 || r.ProcStart != 0 || r.OutputTail != "out" {
		t.Errorf("kept row %+v", r)
	}
}

// A chain of 10,000 stages whose first stage changed: every stage runs
// again, found in one pass (a walk of the dependents of each changed stage
// would cost the chain's length squared).
func TestPlanRerunLongChain(t *testing.T) {
	const n = 10000
	build := func(first string) *score.Score {
		var b strings.Builder
		b.WriteString("[defaults]\ninstrument = \"shell\"\n")
		for i := range n {
			p := "p"
			if i == 0 {
				p = first
			}
			fmt.Fprintf(&b, "[[stage]]\nid = \"s%d\"\nprompt = %q\n", i, p)
		}
		sc, err := score.Parse("/tmp/chain.toml", []byte(b.String()), nil)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	old, edited := build("p"), build("edited")
	rows := make([]store.SheetRow, n)
	for i := range rows {
		rows[i] = store.SheetRow{Num: i + 1, Stage: fmt.Sprintf("s%d", i), Voice: 1, Status: messages.SheetCompleted}
	}
	start := time.Now()
	plan, err := planRerun(edited, old, rows, rerunMode{rescore: true})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.keep) != 0 {
		t.Fatalf("kept %d sheets downstream of a changed first stage, want 0", len(plan.keep))
	}
	plan, _ = planRerun(old, old, rows, rerunMode{rescore: true})
	if len(plan.keep) != n {
		t.Fatalf("kept %d of %d unchanged completed sheets", len(plan.keep), n)
	}
	t.Logf("planned a re-run of %d chained stages in %v", n, took)
}
