package score

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
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
	Vars                                map[string]any
	// VoiceVars holds this voice's element of each voice_vars array.
	VoiceVars map[string]any
	// Prev holds the stages this sheet's stage depends on, directly or not
	// (Score.Ancestors), by id: {{.Prev.draft.Output}}.
	Prev map[string]PrevStage
	// LastFailure is why the sheet's previous try failed; empty on the first
	// try: {{if .LastFailure.Kind}}Last time: {{.LastFailure.Message}}{{end}}.
	LastFailure Failure
}

// Failure is what a retry's templates know of the try before it.
type Failure struct {
	Kind              string   // failed, timed_out, stalled, rate_limited, interrupted
	Message           string   // the sheet's error after that try
	FailedValidations []string // "type: detail" of each validation that failed
	StderrTail        string   // the end of its stderr (at most 2 KiB)
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
	// Workspace is the voice's directory when its stage has a workspace or
	// worktrees of its own; Branch is its git branch with worktree = true.
	Workspace, Branch string
}

// Data is the template data of one attempt of sheet sh; prev holds the
// outputs of the stages in Ancestors(sh.StageIndex).
func (s *Score) Data(sh Sheet, attempt int, prev map[string]PrevStage) TemplateData {
	return s.data(sh, attempt, prev, s.TotalSheets())
}

// data is Data with the score's sheet count already counted.
func (s *Score) data(sh Sheet, attempt int, prev map[string]PrevStage, total int) TemplateData {
	if prev == nil {
		prev = map[string]PrevStage{}
	}
	return TemplateData{
		JobID: s.ID, JobName: s.Name, Workspace: s.Workspace, ScoreDir: s.Dir,
		Sheet: sh.Num, TotalSheets: total, Stage: sh.Stage.ID,
		Voice: sh.Voice, VoiceCount: sh.VoiceCount, Attempt: attempt,
		Instrument: sh.Instrument(), Model: sh.Stage.Model,
		Vars: s.Vars, VoiceVars: s.voiceVarsOf(sh.Voice), Prev: prev,
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

// Quote quotes s for a POSIX shell: 'it'\”s' is one word whatever s holds.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Render executes text as a text/template named name. A key missing from a
// map (.Vars.x, .Prev.x) is an error, not "<no value>". Rendering is bounded
// (RenderBudget, MaxRenderedSize). Errors are *TemplateError.
func Render(name, text string, data TemplateData) (string, error) {
	c, err := compile(name, text)
	if err != nil {
		return "", err
	}
	return c.execute(data, nil)
}

// compiled is a parsed, bounded template, for rendering several times
// (each voice of a stage at validation). Not for concurrent use.
type compiled struct {
	name, internal string
	t              *template.Template
	b              budget
}

func compile(name, text string) (*compiled, error) {
	// text/template puts the name into a format string of its own: a "%"
	// in it would garble every message (found by fuzzing).
	c := &compiled{name: name, internal: strings.ReplaceAll(name, "%", "_")}
	t, err := template.New(c.internal).Option("missingkey=error").Funcs(funcs(&c.b)).Parse(text)
	if err != nil {
		return nil, templateError(name, c.internal, err)
	}
	if err := bound(t); err != nil {
		return nil, &TemplateError{Name: name, Msg: err.Error()}
	}
	c.t = t
	return c, nil
}

// execute renders with a fresh budget; pool, when not nil, is what is left
// of the validation's budget, and is drawn from.
func (c *compiled) execute(data TemplateData, pool *int) (string, error) {
	c.b = budget{pool: pool}
	b := &limitedBuilder{max: MaxRenderedSize, b: &c.b}
	if err := c.t.Execute(b, data); err != nil {
		return "", templateError(c.name, c.internal, err)
	}
	return b.String(), nil
}

// limitedBuilder is the output of a render: it refuses to grow past max,
// and output pays for itself like the strings functions build.
type limitedBuilder struct {
	strings.Builder
	max int
	b   *budget
}

func (l *limitedBuilder) Write(p []byte) (int, error) {
	if l.Len()+len(p) > l.max {
		return 0, errOutputSize
	}
	if err := l.b.spend(len(p) / bytesPerStep); err != nil {
		return 0, err
	}
	return l.Builder.Write(p)
}

// text/template reports "template: NAME:LINE[:COL]: [executing "NAME" at <EXPR>: ]MSG".
var templateErrRE = regexp.MustCompile(`^template: (.*?):(\d+)(?::(\d+))?: (?:executing "[^"]*" at <([^>]*)>: )?(.*)$`)

func templateError(name, internal string, err error) *TemplateError {
	e := &TemplateError{Name: name, Msg: err.Error()}
	m := templateErrRE.FindStringSubmatch(err.Error())
	if m == nil || m[1] != internal {
		if isBudgetError(err) {
			e.Msg = budgetMsg(err)
		}
		return e
	}
	e.Line, _ = strconv.Atoi(m[2])
	e.Col, _ = strconv.Atoi(m[3])
	expr, msg := m[4], m[5]
	switch {
	case isBudgetError(err):
		msg = budgetMsg(err)
	case fieldErrRE.MatchString(msg):
		fm := fieldErrRE.FindStringSubmatch(msg)
		if !strings.HasSuffix(expr, "."+fm[1]) {
			// text/template points at another part of a chain: name the field.
			expr = "." + fm[1]
		}
		msg = notAField(expr, fm[2])
	case strings.HasPrefix(expr, ".Vars.") && strings.HasPrefix(msg, "map has no entry"):
		msg = fmt.Sprintf("undefined var %q (define it under [vars])", strings.TrimPrefix(expr, ".Vars."))
	case strings.HasPrefix(expr, ".VoiceVars.") && strings.HasPrefix(msg, "map has no entry"):
		msg = fmt.Sprintf("undefined voice var %q (define it under voice_vars, one element per voice)", strings.TrimPrefix(expr, ".VoiceVars."))
	case strings.HasPrefix(expr, ".Prev.") && strings.HasPrefix(msg, "map has no entry"):
		id, _, _ := strings.Cut(strings.TrimPrefix(expr, ".Prev."), ".")
		msg = fmt.Sprintf(".Prev.%s: %q is not a stage this stage depends on, directly or not", id, id)
	case expr != "":
		msg = expr + ": " + msg
	}
	e.Msg = msg
	return e
}

// budgetMsg says which bound a render went past, without the plumbing
// ("error calling _budget") around it.
func budgetMsg(err error) string {
	for _, b := range []error{errValidationBudget, errRenderBudget, errOutputSize} {
		if errors.Is(err, b) {
			return b.Error()
		}
	}
	return err.Error()
}

// text/template names the Go type it looked a field up in; users know the
// score's fields, not our types.
var fieldErrRE = regexp.MustCompile(`^can't evaluate field (\w+) in type (\S+(?: \{\})?)$`)

func notAField(expr, typ string) string {
	switch strings.TrimPrefix(typ, "*") {
	case "score.TemplateData":
		return fmt.Sprintf("%s is not a template field (fields: %s)", expr, fieldList(TemplateData{}))
	case "score.PrevStage":
		return fmt.Sprintf("%s is not a field of an earlier stage (fields: %s)", expr, fieldList(PrevStage{}))
	case "score.VoiceOutput":
		return fmt.Sprintf("%s is not a field of a voice (fields: %s)", expr, fieldList(VoiceOutput{}))
	case "score.Sheet", "score.Score", "score.Stage":
		return fmt.Sprintf("%s is not a template field", expr)
	}
	switch {
	case strings.HasPrefix(typ, "interface"), strings.HasPrefix(typ, "map["):
		// A var's value: a string, list or table of the score.
		return fmt.Sprintf("%s: this value has no fields (only a table's keys can follow it)", expr)
	case strings.HasPrefix(typ, "[]"):
		return fmt.Sprintf("%s: a list has no fields: pick one with index, as in (index .Prev.draft.Voices 0).Output", expr)
	case strings.HasPrefix(typ, "int") || strings.HasPrefix(typ, "uint"):
		return fmt.Sprintf("%s: a number has no fields", expr)
	case typ == "string" || typ == "bool":
		return fmt.Sprintf("%s: a %s has no fields", expr, typ)
	default:
		return fmt.Sprintf("%s: this value has no fields", expr)
	}
}

// fieldList is ".A .B ..." for the fields of v's struct type.
func fieldList(v any) string {
	t := reflect.TypeOf(v)
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = "." + t.Field(i).Name
	}
	return strings.Join(names, " ")
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
