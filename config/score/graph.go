package score

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mzt-dev/mzt/config/strict"
)

// Sheet is one unit of work: one voice of one stage.
type Sheet struct {
	Num        int    // 1-based, in stage order, a stage's voices consecutive
	Stage      *Stage // points into Score.Stages
	StageIndex int
	Voice      int   // 1..VoiceCount
	VoiceCount int   // the stage's voices
	Deps       []int // sheet numbers this sheet waits for, ascending; shared by the stage's sheets: read only
}

// checkGraph resolves depends_on and reports unknown stages and cycles.
func (p *parser) checkGraph(s *Score) {
	index := map[string]int{}
	for i, st := range s.Stages {
		if _, dup := index[st.ID]; !dup && st.ID != "" {
			index[st.ID] = i
		}
	}
	// The ids in file order, each once, for "did you mean".
	ids := make([]string, 0, len(index))
	for i, st := range s.Stages {
		if st.ID != "" && index[st.ID] == i {
			ids = append(ids, st.ID)
		}
	}

	deps := make([][]int, len(s.Stages))
	for i := range s.Stages {
		st := &s.Stages[i]
		key := stageKey(i) + ".depends_on"
		if st.DependsOn == nil {
			// Left out: the previous stage, which makes a plain list of stages a pipeline.
			st.DependsOn = []string{}
			if i > 0 && s.Stages[i-1].ID != "" {
				st.DependsOn = []string{s.Stages[i-1].ID}
				deps[i] = []int{i - 1}
			}
			continue
		}
		seen := map[string]bool{}
		for j, d := range st.DependsOn {
			dk := fmt.Sprintf("%s[%d]", key, j)
			if seen[d] {
				p.at(dk, "stage %s lists %q twice in depends_on", st.ID, d)
				continue
			}
			seen[d] = true
			k, ok := index[d]
			if !ok {
				msg := fmt.Sprintf("stage %s depends on unknown stage %q", st.ID, d)
				if sug := strict.Suggest(d, ids); sug != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", sug)
				}
				p.at(dk, "%s", msg)
				continue
			}
			deps[i] = append(deps[i], k)
		}
	}

	for _, cycle := range cycles(deps) {
		names := make([]string, len(cycle)+1)
		for j, k := range cycle {
			names[j] = s.Stages[k].ID
		}
		names[len(cycle)] = names[0]
		p.at(stageKey(cycle[0])+".depends_on", "cycle in depends_on: %s", strings.Join(names, " -> "))
	}
}

// cycles finds the dependency cycles, each once, starting at its first stage
// in file order and following depends_on.
func cycles(deps [][]int) [][]int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(deps))
	var stack []int
	var found [][]int
	seen := map[string]bool{}
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range deps[i] {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				at := slices.Index(stack, d)
				c := slices.Clone(stack[at:])
				// Rotate so the earliest stage comes first: one cycle, one report.
				m := slices.Index(c, slices.Min(c))
				c = append(c[m:], c[:m]...)
				if k := fmt.Sprint(c); !seen[k] {
					seen[k] = true
					found = append(found, c)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range deps {
		if color[i] == white {
			visit(i)
		}
	}
	return found
}

// index maps stage ids to their index. A parsed score keeps it (see build);
// a hand-built one gets a fresh one.
func (s *Score) index() map[string]int {
	if s.stageIndex != nil {
		return s.stageIndex
	}
	return makeIndex(s.Stages)
}

func makeIndex(stages []Stage) map[string]int {
	m := make(map[string]int, len(stages))
	for i, st := range stages {
		m[st.ID] = i
	}
	return m
}

// Sheets expands the stages into sheets: numbered from 1 in stage order, a
// stage's voices consecutive. A sheet waits for every sheet of every stage its
// stage depends on, so a fan-in waits for all voices.
func (s *Score) Sheets() []Sheet {
	first := make([]int, len(s.Stages))
	n := 1
	for i, st := range s.Stages {
		first[i] = n
		n += st.Voices
	}
	idx := s.index()
	out := make([]Sheet, 0, n-1)
	for i := range s.Stages {
		st := &s.Stages[i]
		var deps []int
		for _, d := range st.DependsOn {
			j, ok := idx[d]
			if !ok {
				continue // only in a hand-built Score: Parse refuses unknown stages
			}
			for v := range s.Stages[j].Voices {
				deps = append(deps, first[j]+v)
			}
		}
		slices.Sort(deps)
		// One slice for all of a stage's voices: a fan-in of a wide stage
		// into another would otherwise hold voices x voices numbers.
		for v := 1; v <= st.Voices; v++ {
			out = append(out, Sheet{
				Num: first[i] + v - 1, Stage: st, StageIndex: i,
				Voice: v, VoiceCount: st.Voices, Deps: deps,
			})
		}
	}
	return out
}

// TotalSheets is the number of sheets of the score.
func (s *Score) TotalSheets() int {
	n := 0
	for _, st := range s.Stages {
		n += st.Voices
	}
	return n
}

// Order groups the stage ids in dependency layers: the first layer depends on
// nothing, each later one only on earlier layers; file order within a layer.
func (s *Score) Order() [][]string {
	idx := s.index()
	layer := make([]int, len(s.Stages))
	state := make([]int, len(s.Stages)) // 0 new, 1 in progress, 2 done
	var depth func(i int) int
	depth = func(i int) int {
		if state[i] != 0 {
			// Done, or a cycle (only in a hand-built Score): stop either way.
			return layer[i]
		}
		state[i] = 1
		l := 0
		for _, d := range s.Stages[i].DependsOn {
			if j, ok := idx[d]; ok {
				l = max(l, depth(j)+1)
			}
		}
		layer[i], state[i] = l, 2
		return l
	}
	var out [][]string
	for i, st := range s.Stages {
		l := depth(i)
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], st.ID)
	}
	return out
}

// Ancestors lists, in stage order, every stage that stage i depends on,
// directly or through others: the stages whose outputs exist when it runs,
// and so the keys of its .Prev.
func (s *Score) Ancestors(i int) []string {
	in := s.reach(i, -1)
	var out []string
	for k, yes := range in {
		if yes && k != i {
			out = append(out, s.Stages[k].ID)
		}
	}
	return out
}

// isAncestor reports whether stage i depends on stage j, directly or not.
func (s *Score) isAncestor(i, j int) bool {
	return i != j && s.reach(i, j)[j]
}

// dependents marks the stages that depend on stage j, directly or not.
func (s *Score) dependents(j int) []bool {
	idx := s.index()
	next := make([][]int, len(s.Stages)) // stage -> the stages that list it in depends_on
	for i, st := range s.Stages {
		for _, d := range st.DependsOn {
			if k, ok := idx[d]; ok {
				next[k] = append(next[k], i)
			}
		}
	}
	out := make([]bool, len(s.Stages))
	todo := []int{j}
	for len(todo) > 0 {
		k := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, i := range next[k] {
			if !out[i] {
				out[i] = true
				todo = append(todo, i)
			}
		}
	}
	return out
}

// reach marks the stages i depends on, directly or not, stopping early once
// stop (when not -1) is found. It takes no more than one visit per stage and
// no recursion, so a chain of ten thousand stages costs ten thousand steps.
func (s *Score) reach(i, stop int) []bool {
	idx := s.index()
	in := make([]bool, len(s.Stages))
	todo := []int{i}
	for len(todo) > 0 {
		j := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, d := range s.Stages[j].DependsOn {
			if k, ok := idx[d]; ok && !in[k] {
				in[k] = true
				if k == stop {
					return in
				}
				todo = append(todo, k)
			}
		}
	}
	return in
}
