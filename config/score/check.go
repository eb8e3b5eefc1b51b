package score

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template/parse"

	"github.com/mzt-dev/mzt/config/strict"
)

// checkTemplates renders every template of every stage against sample data,
// once per voice where the template can tell voices apart, so that a typo,
// or a voice that loops for ever, shows at validate time, not hours into a
// job. All of it together stays within ValidationBudget.
func (p *parser) checkTemplates(s *Score) {
	pool := ValidationBudget
	total := s.TotalSheets()
	voices := make([][]VoiceOutput, len(s.Stages)) // shared sample outputs, made on first use
	first := 1                                     // number of the stage's first sheet
	for i := range s.Stages {
		st := &s.Stages[i]
		key := stageKey(i)
		var checks []templateCheck
		switch {
		case st.Prompt != "":
			checks = append(checks, templateCheck{key: key + ".prompt", text: st.Prompt})
		case st.PromptText != "":
			checks = append(checks, templateCheck{key: key + ".prompt", text: st.PromptText, file: st.PromptFile})
		}
		if st.Workspace != "" {
			checks = append(checks, templateCheck{key: key + ".workspace", text: st.Workspace})
		}
		for j, v := range st.Validate {
			vk := fmt.Sprintf("%s.validate[%d]", key, j)
			for _, f := range []struct{ name, text string }{
				{"path", v.Path}, {"contains", v.Contains}, {"pattern", v.Pattern}, {"run", v.Run},
			} {
				if f.text != "" {
					checks = append(checks, templateCheck{key: vk + "." + f.name, text: f.text})
				}
			}
		}
		for _, c := range checks {
			if !p.checkTemplate(s, i, first, total, c, voices, &pool) {
				return // the validation budget is spent: said once
			}
		}
		first += st.Voices
	}
}

// templateCheck is one template of a stage; file is set for a prompt file.
type templateCheck struct {
	key, text, file string
}

// checkTemplate compiles one template and renders it for each voice it can
// tell apart. It returns false once the validation budget is spent.
func (p *parser) checkTemplate(s *Score, i, first, total int, c templateCheck, voices [][]VoiceOutput, pool *int) bool {
	name := c.key
	if c.file != "" {
		name = "prompt_file"
	}
	ct, err := compile(name, c.text)
	if err != nil {
		p.templateProblem(c, err, 0)
		return true
	}
	st := &s.Stages[i]
	use := usesOf(ct)
	n := 1
	if use.voice {
		n = st.Voices
	}
	if use.allPrev {
		if id := p.notUpstream(s, i, use); id != "" {
			p.templateProblem(c, &TemplateError{Msg: fmt.Sprintf(".Prev.%s: %q is not a stage this stage depends on, directly or not", id, id)}, 0)
			return true
		}
	}
	data := s.data(Sheet{Num: first, Stage: st, StageIndex: i, Voice: 1, VoiceCount: st.Voices}, 1, p.samplePrev(s, i, use, voices), total)
	for v := 1; v <= n; v++ {
		data.Voice, data.Sheet = v, first+v-1
		if nv := s.voiceVarCount(); nv > 0 && v > nv && strings.Contains(c.text, "VoiceVars") {
			break // more voices than voice_vars elements: said once, for the stage
		}
		if v > 1 {
			sh := Sheet{Num: data.Sheet, Stage: st, StageIndex: i, Voice: v, VoiceCount: st.Voices}
			data.VoiceVars, data.Instrument = s.voiceVarsOf(v), sh.Instrument()
		}
		_, err := ct.execute(data, pool)
		if *pool < 0 {
			p.at("", "%s", errValidationBudget.Error())
			return false
		}
		if err != nil {
			p.templateProblem(c, err, v)
			break // one problem per template: the next voices would say the same
		}
	}
	return true
}

// samplePrev is the .Prev of stage i for validation: only the earlier stages
// its templates name, unless they use .Prev as a whole, so that a long chain
// of stages does not hold every ancestor for every stage. Voices slices are
// shared between stages.
func (p *parser) samplePrev(s *Score, i int, use templateUses, voices [][]VoiceOutput) map[string]PrevStage {
	sample := func(j int) PrevStage {
		if voices[j] == nil {
			voices[j] = make([]VoiceOutput, s.Stages[j].Voices)
		}
		return PrevStage{Voices: voices[j]}
	}
	if use.allPrev {
		// One map of every stage, shared: one per stage of its ancestors
		// would be stages² entries for a long chain. Names of stages that
		// are not ancestors are checked by notUpstream instead.
		if p.everyStage == nil {
			p.everyStage = make(map[string]PrevStage, len(s.Stages))
			for j, st := range s.Stages {
				p.everyStage[st.ID] = sample(j)
			}
		}
		return p.everyStage
	}
	prev := map[string]PrevStage{}
	idx := s.index()
	for id := range use.prev {
		if j, ok := idx[id]; ok && p.upstream(s, i, j) {
			prev[id] = sample(j)
		}
	}
	return prev
}

// upstream reports whether stage i depends on stage j, directly or not.
// Many stages of a long chain may name the same early stage: the stages
// downstream of the first few named are kept, so that each such question
// costs one look, not a walk up the chain.
func (p *parser) upstream(s *Score, i, j int) bool {
	if i == j {
		return false
	}
	if down, ok := p.downstream[j]; ok {
		return down[i]
	}
	if len(p.downstream) >= maxKeptDownstream {
		return s.isAncestor(i, j)
	}
	if p.downstream == nil {
		p.downstream = map[int][]bool{}
	}
	down := s.dependents(j)
	p.downstream[j] = down
	return down[i]
}

// maxKeptDownstream bounds the memory upstream keeps: one bool per stage each.
const maxKeptDownstream = 32

// notUpstream is the first stage the template names as .Prev.<id> that
// stage i does not depend on, or "".
func (p *parser) notUpstream(s *Score, i int, use templateUses) string {
	idx := s.index()
	for _, id := range slices.Sorted(maps.Keys(use.prev)) {
		if j, ok := idx[id]; !ok || !p.upstream(s, i, j) {
			return id
		}
	}
	return ""
}

// templateProblem reports a bad template held in the score at c.key, on the
// line within the score where the template's own failing line is, or in its
// prompt file. voice > 1 names the voice that failed.
func (p *parser) templateProblem(c templateCheck, err error, voice int) {
	var te *TemplateError
	if !errors.As(err, &te) {
		te = &TemplateError{Msg: err.Error()}
	}
	msg := te.Msg
	if voice > 1 {
		msg = fmt.Sprintf("voice %d: %s", voice, msg)
	}
	if c.file != "" {
		p.problems = append(p.problems, strict.Problem{File: p.relative(c.file), Line: te.Line, Col: te.Col, Msg: "bad template: " + msg})
		return
	}
	line, col := p.pos.Pos(c.key)
	if te.Line > 0 && line > 0 {
		off := 0
		if opensMultiline(p.data, line) {
			// After key = """ and a newline, the text's lines are the file's.
			off = te.Line
		}
		// In a one-line string, "\n" escapes make template lines that are
		// not file lines: the key's own line is the best we can say.
		if off > 0 {
			col = 0 // the key's column says nothing about a later line
		}
		line += off
	}
	p.problems = append(p.problems, strict.Problem{File: p.file, Line: line, Col: col, Key: c.key,
		Msg: fmt.Sprintf("bad template in %s: %s", lastKey(c.key), msg)})
}

// templateUses is what a template reads that changes between sheets.
type templateUses struct {
	voice   bool            // .Voice, .Sheet, or the whole data (which holds them)
	allPrev bool            // .Prev as a whole (range, index, len, printf)
	prev    map[string]bool // .Prev.<id>
}

func usesOf(c *compiled) templateUses {
	u := templateUses{prev: map[string]bool{}}
	field := func(idents []string) {
		if len(idents) == 0 {
			return
		}
		switch idents[0] {
		case "Voice", "Sheet", "VoiceVars", "Instrument", "Workspace":
			// Each voice has its own element, instrument and directory.
			u.voice = true
		case "Prev":
			if len(idents) == 1 {
				u.allPrev = true
			} else {
				u.prev[idents[1]] = true
			}
		}
	}
	for _, t := range c.t.Templates() {
		if t.Tree == nil {
			continue
		}
		walkNodes(t.Tree.Root, func(n parse.Node) {
			switch n := n.(type) {
			case *parse.FieldNode:
				field(n.Ident)
			case *parse.VariableNode:
				// $ is the whole data; $.Voice one of its fields; $x a variable,
				// whose value came from a node seen elsewhere.
				if n.Ident[0] == "$" {
					if len(n.Ident) == 1 {
						u.voice, u.allPrev = true, true
					} else {
						field(n.Ident[1:])
					}
				}
			case *parse.DotNode:
				// At the top, the whole data; inside range or with, something
				// else: either way, assume the worst.
				u.voice, u.allPrev = true, true
			}
		})
	}
	return u
}
