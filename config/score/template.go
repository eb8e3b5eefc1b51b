package score

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/mzt-dev/mzt/config/strict"
)

// TemplateData is what every template of a score (prompts, validation path,
// contains, pattern and run) can use.
type TemplateData struct {
	JobID, JobName, Workspace, ScoreDir string
	Sheet, TotalSheets                  int
	Stage                               string // the stage id
	Voice, VoiceCount                   int
	Attempt                             int // 1 for the first try
	Instrument, Model                   string
	Vars                                map[string]string
	// Prev holds the stages this sheet's stage depends on, directly or not
	// (Score.Ancestors), by id: {{.Prev.draft.Output}}.
	Prev map[string]PrevStage
}

// PrevStage is what a later stage sees of an earlier one.
type PrevStage struct {
	// Output is the tail of the stage's output; for a fan-out stage, the
	// voices' outputs in voice order.
	Output string
	// Voices has one entry per voice, voice 1 first:
	// {{(index .Prev.draft.Voices 0).Output}}.
	Voices []VoiceOutput
}

// VoiceOutput is the output of one voice of an earlier stage.
type VoiceOutput struct {
	Output string
}

// Data is the template data of one attempt of sheet sh; prev holds the
// outputs of the stages in Ancestors(sh.StageIndex).
func (s *Score) Data(sh Sheet, attempt int, prev map[string]PrevStage) TemplateData {
	if prev == nil {
		prev = map[string]PrevStage{}
	}
	return TemplateData{
		JobID: s.ID, JobName: s.Name, Workspace: s.Workspace, ScoreDir: s.Dir,
		Sheet: sh.Num, TotalSheets: s.TotalSheets(), Stage: sh.Stage.ID,
		Voice: sh.Voice, VoiceCount: sh.VoiceCount, Attempt: attempt,
		Instrument: sh.Stage.Instrument, Model: sh.Stage.Model,
		Vars: s.Vars, Prev: prev,
	}
}

// TemplateError is a template that does not parse or does not execute.
type TemplateError struct {
	Name      string // the name given to Render
	Line, Col int    // in the template text, 1-based; 0 when unknown
	Msg       string
}

func (e *TemplateError) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("template %s:%d:%d: %s", e.Name, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("template %s:%d: %s", e.Name, e.Line, e.Msg)
	default:
		return fmt.Sprintf("template %s: %s", e.Name, e.Msg)
	}
}

// funcs are the template functions: pure, no I/O, nothing that could leak
// the conductor's environment.
func funcs() template.FuncMap {
	return template.FuncMap{
		"quote": Quote,
		"join":  func(sep string, elems []string) string { return strings.Join(elems, sep) },
		"trim":  strings.TrimSpace,
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		// default "x" .Vars.name: "x" when the value is empty. (An undefined
		// var is still an error; {{index .Vars "name"}} reads one that may be absent.)
		"default": func(def, v string) string {
			if v == "" {
				return def
			}
			return v
		},
		"add": func(a, b int) int { return a + b },
		"sub": func(a, b int) int { return a - b },
	}
}

// Quote quotes s for a POSIX shell: 'it'\”s' is one word whatever s holds.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Render executes text as a text/template named name. A key missing from a
// map (.Vars.x, .Prev.x) is an error, not "<no value>". Errors are *TemplateError.
func Render(name, text string, data TemplateData) (string, error) {
	// text/template puts the name into a format string of its own: a "%"
	// in it would garble every message (found by fuzzing).
	internal := strings.ReplaceAll(name, "%", "_")
	t, err := template.New(internal).Option("missingkey=error").Funcs(funcs()).Parse(text)
	if err != nil {
		return "", templateError(name, internal, err)
	}
	b := &limitedBuilder{max: MaxRenderedSize}
	if err := t.Execute(b, data); err != nil {
		return "", templateError(name, internal, err)
	}
	return b.String(), nil
}

// MaxRenderedSize bounds what one template may produce: a `range` over a
// huge number must fail, not fill the conductor's memory.
const MaxRenderedSize = 4 << 20

type limitedBuilder struct {
	strings.Builder
	max int
}

func (l *limitedBuilder) Write(p []byte) (int, error) {
	if l.Len()+len(p) > l.max {
		return 0, fmt.Errorf("output larger than %d bytes", l.max)
	}
	return l.Builder.Write(p)
}

// text/template reports "template: NAME:LINE[:COL]: [executing "NAME" at <EXPR>: ]MSG".
var templateErrRE = regexp.MustCompile(`^template: (.*?):(\d+)(?::(\d+))?: (?:executing "[^"]*" at <([^>]*)>: )?(.*)$`)

func templateError(name, internal string, err error) *TemplateError {
	e := &TemplateError{Name: name, Msg: err.Error()}
	m := templateErrRE.FindStringSubmatch(err.Error())
	if m == nil || m[1] != internal {
		return e
	}
	e.Line, _ = strconv.Atoi(m[2])
	e.Col, _ = strconv.Atoi(m[3])
	expr, msg := m[4], m[5]
	switch {
	case strings.HasPrefix(expr, ".Vars.") && strings.HasPrefix(msg, "map has no entry"):
		msg = fmt.Sprintf("undefined var %q (define it under [vars])", strings.TrimPrefix(expr, ".Vars."))
	case strings.HasPrefix(expr, ".Prev.") && strings.HasPrefix(msg, "map has no entry"):
		id, _, _ := strings.Cut(strings.TrimPrefix(expr, ".Prev."), ".")
		msg = fmt.Sprintf(".Prev.%s: %q is not a stage this stage depends on, directly or not", id, id)
	case expr != "":
		msg = expr + ": " + msg
	}
	e.Msg = msg
	return e
}

// checkTemplates renders every template of every stage against sample data
// for its first sheet, so that a typo shows at validate time, not hours into
// a job.
func (p *parser) checkTemplates(s *Score) {
	sheets := s.Sheets()
	first := map[int]Sheet{}
	for _, sh := range sheets {
		if _, ok := first[sh.StageIndex]; !ok {
			first[sh.StageIndex] = sh
		}
	}
	idx := s.index()
	for i := range s.Stages {
		st := &s.Stages[i]
		prev := map[string]PrevStage{}
		for _, a := range s.Ancestors(i) {
			prev[a] = PrevStage{Voices: make([]VoiceOutput, s.Stages[idx[a]].Voices)}
		}
		data := s.Data(first[i], 1, prev)
		key := stageKey(i)
		switch {
		case st.Prompt != "":
			p.checkTemplate(key+".prompt", st.Prompt, data)
		case st.PromptText != "":
			p.checkFileTemplate(st.PromptFile, st.PromptText, data)
		}
		for j, v := range st.Validate {
			vk := fmt.Sprintf("%s.validate[%d]", key, j)
			for _, f := range []struct{ name, text string }{
				{"path", v.Path}, {"contains", v.Contains}, {"pattern", v.Pattern}, {"run", v.Run},
			} {
				if f.text != "" {
					p.checkTemplate(vk+"."+f.name, f.text, data)
				}
			}
		}
	}
}

// checkTemplate reports a bad template held in the score at key, on the line
// within the score where the template's own failing line is.
func (p *parser) checkTemplate(key, text string, data TemplateData) {
	_, err := Render(key, text, data)
	var te *TemplateError
	if !errors.As(err, &te) {
		return
	}
	line, col := p.pos.Pos(key)
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
	p.problems = append(p.problems, strict.Problem{File: p.file, Line: line, Col: col, Key: key,
		Msg: fmt.Sprintf("bad template in %s: %s", lastKey(key), te.Msg)})
}

// checkFileTemplate reports a bad template in a prompt file, at its own line.
func (p *parser) checkFileTemplate(file, text string, data TemplateData) {
	_, err := Render("prompt_file", text, data)
	var te *TemplateError
	if !errors.As(err, &te) {
		return
	}
	p.problems = append(p.problems, strict.Problem{File: p.relative(file), Line: te.Line, Col: te.Col, Msg: "bad template: " + te.Msg})
}

// relative names a file the score refers to as the user would: relative to
// the score's path as they gave it.
func (p *parser) relative(file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	return filepath.Join(filepath.Dir(p.file), file)
}

// opensMultiline reports whether the value of the key on line (1-based) is a
// multi-line string whose first line is empty (key = """ then a newline),
// which TOML drops.
func opensMultiline(data []byte, line int) bool {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return false
	}
	_, v, ok := strings.Cut(lines[line-1], "=")
	v = strings.TrimSpace(v)
	return ok && (v == `"""` || v == `'''`)
}

// lastKey is the last key of a path: "stage[0].validate[1].run" -> "run".
func lastKey(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}
