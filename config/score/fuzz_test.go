package score

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/config/strict"
	"github.com/pelletier/go-toml/v2"
)

const fuzzUnknownKey = "zz_fuzz_unknown"

// FuzzParse parses arbitrary score files as if they were
// testdata/scores/fuzz.toml (so prompt_file seeds find prompts/*.tmpl).
// Properties:
//   - exactly one of the score and the error is nil;
//   - the error is a non-empty strict.Problems, sorted, each with a file, a
//     message and, for the score file, a line inside it;
//   - an unknown key put in front of any TOML document is reported at 1:1;
//   - a parsed score is consistent: valid ids, resolved settings, known
//     dependencies, no cycle, sheets numbered 1..TotalSheets with their
//     dependencies, dependency layers in order, and it re-parses from its
//     Source to the same stages and sheet count.
func FuzzParse(f *testing.F) {
	dir, err := filepath.Abs(scores)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(dir, "fuzz.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if !promptFilesInside(data, dir) {
			t.Skip("prompt_file outside the score directory (e.g. /dev/zero) is not the parser's business")
		}
		s, err := Parse(path, data, known)
		switch {
		case s == nil && err == nil:
			t.Fatal("Parse returned neither a score nor an error")
		case s != nil && err != nil:
			t.Fatalf("Parse returned both a score and an error: %v", err)
		case err != nil:
			checkScoreProblems(t, path, data, err)
		default:
			checkScore(t, s, data)
			s2, err := Parse(path, s.Source, known)
			if err != nil {
				t.Fatalf("the score's Source does not parse again: %v", err)
			}
			if s2.TotalSheets() != s.TotalSheets() || len(s2.Sheets()) != len(s.Sheets()) || !slices.Equal(stageIDs(s2), stageIDs(s)) {
				t.Fatalf("re-parse gave %d sheets %q, first parse %d sheets %q", s2.TotalSheets(), stageIDs(s2), s.TotalSheets(), stageIDs(s))
			}
		}

		// An unknown key in front of a document that is TOML.
		if !isTOML(data) {
			return
		}
		prefixed := append([]byte(fuzzUnknownKey+" = 1\n"), data...)
		if !isTOML(prefixed) {
			return // the document defines the key itself
		}
		ps, err := Parse(path, prefixed, known)
		if ps != nil || err == nil {
			t.Fatalf("a score with an unknown key parsed: %v", err)
		}
		problems := checkScoreProblems(t, path, prefixed, err)
		if !slices.ContainsFunc(problems, func(p strict.Problem) bool {
			return p.File == path && p.Line == 1 && p.Col == 1 && strings.Contains(p.Msg, fmt.Sprintf("unknown key %q", fuzzUnknownKey))
		}) {
			t.Fatalf("unknown key on line 1 not reported at 1:1; got:\n%v", err)
		}
	})
}

// promptFilesInside reports whether every prompt_file of data is inside dir,
// so that the fuzzer never makes Parse read a device or a file elsewhere.
func promptFilesInside(data []byte, dir string) bool {
	var raw rawScore
	if toml.Unmarshal(data, &raw) != nil {
		return true // Parse stops before reading prompt files
	}
	for _, st := range raw.Stage {
		if st.PromptFile == nil {
			continue
		}
		p := *st.PromptFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if p = filepath.Clean(p); p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			return false
		}
	}
	return true
}

func isTOML(data []byte) bool {
	var m map[string]any
	return toml.Unmarshal(data, &m) == nil
}

func stageIDs(s *Score) []string {
	ids := make([]string, len(s.Stages))
	for i, st := range s.Stages {
		ids[i] = st.ID
	}
	return ids
}

// checkScoreProblems checks the shape of an error of Parse and returns its problems.
func checkScoreProblems(t *testing.T, path string, data []byte, err error) strict.Problems {
	t.Helper()
	var ps strict.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, want strict.Problems: %v", err, err)
	}
	if len(ps) == 0 {
		t.Fatal("empty strict.Problems returned as an error")
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, p := range ps {
		s := p.String()
		switch {
		case p.File == "" || p.Msg == "":
			t.Fatalf("problem without a file or a message: %+v", p)
		case !strings.HasPrefix(s, p.File) || !strings.HasSuffix(s, p.Msg):
			t.Fatalf("Problem.String() = %q for %+v", s, p)
		case p.Line < 0 || p.Col < 0:
			t.Fatalf("negative position: %+v", p)
		case p.File == path && p.Line > lines:
			t.Fatalf("problem on line %d of a %d-line score: %s", p.Line, lines, s)
		}
	}
	if !slices.IsSortedFunc(ps, compareProblems) {
		t.Fatalf("problems are not sorted:\n%v", err)
	}
	return ps
}

// compareProblems is the order of strict.Problems.Sort.
func compareProblems(a, b strict.Problem) int {
	if c := strings.Compare(a.File, b.File); c != 0 {
		return c
	}
	line := func(p strict.Problem) int {
		if p.Line == 0 {
			return math.MaxInt
		}
		return p.Line
	}
	if la, lb := line(a), line(b); la != lb {
		if la < lb {
			return -1
		}
		return 1
	}
	return a.Col - b.Col
}

// checkScore checks the invariants of a valid score.
func checkScore(t *testing.T, s *Score, data []byte) {
	t.Helper()
	if !bytes.Equal(s.Source, data) {
		t.Fatal("Source is not the data parsed")
	}
	if !ValidJobID(s.ID) || s.Name == "" || s.Vars == nil || s.MaxParallel < 1 || len(s.Stages) == 0 ||
		!filepath.IsAbs(s.Workspace) || !filepath.IsAbs(s.Dir) {
		t.Fatalf("bad score header: id %q name %q vars %v max_parallel %d, %d stages, workspace %q, dir %q",
			s.ID, s.Name, s.Vars, s.MaxParallel, len(s.Stages), s.Workspace, s.Dir)
	}
	ids := map[string]int{}
	for i, st := range s.Stages {
		if !stageIDRE.MatchString(st.ID) {
			t.Fatalf("stage %d: bad id %q", i, st.ID)
		}
		if _, dup := ids[st.ID]; dup {
			t.Fatalf("stage id %q used twice", st.ID)
		}
		ids[st.ID] = i
	}
	for i, st := range s.Stages {
		switch {
		case st.Voices < 1 || st.Voices > MaxVoices:
			t.Fatalf("stage %s: %d voices", st.ID, st.Voices)
		case st.Backoff == nil || st.Backoff.Jitter == nil || st.Env == nil:
			t.Fatalf("stage %s: settings not resolved: %+v", st.ID, st.Settings)
		case st.Attempts < 1 || !known[st.Instrument] || st.Line < 1:
			t.Fatalf("stage %s: attempts %d instrument %q line %d", st.ID, st.Attempts, st.Instrument, st.Line)
		case (st.Prompt == "") == (st.PromptFile == "") || strings.TrimSpace(st.PromptText) == "":
			t.Fatalf("stage %s: prompt %q prompt_file %q text %q", st.ID, st.Prompt, st.PromptFile, st.PromptText)
		case st.DependsOn == nil:
			t.Fatalf("stage %s: depends_on not resolved", st.ID)
		}
		for _, d := range st.DependsOn {
			if j, ok := ids[d]; !ok || j == i {
				t.Fatalf("stage %s depends on %q", st.ID, d)
			}
		}
		if slices.Contains(s.Ancestors(i), st.ID) {
			t.Fatalf("stage %s is its own ancestor: %q", st.ID, s.Ancestors(i))
		}
		for _, v := range st.Validate {
			if _, _, ok := validationKeys(v.Type); !ok || v.Line < 1 || v.Type == Command && v.Timeout <= 0 {
				t.Fatalf("stage %s: bad validation %+v", st.ID, v)
			}
		}
	}

	sheets := s.Sheets()
	if len(sheets) != s.TotalSheets() {
		t.Fatalf("%d sheets, TotalSheets %d", len(sheets), s.TotalSheets())
	}
	for i, sh := range sheets {
		if sh.Num != i+1 || sh.Stage != &s.Stages[sh.StageIndex] || sh.Voice < 1 || sh.Voice > sh.VoiceCount ||
			sh.VoiceCount != sh.Stage.Voices || !slices.IsSorted(sh.Deps) {
			t.Fatalf("bad sheet %d: %+v", i+1, sh)
		}
		for _, d := range sh.Deps {
			if d < 1 || d > len(sheets) || d == sh.Num || sheets[d-1].StageIndex == sh.StageIndex {
				t.Fatalf("sheet %d depends on sheet %d", sh.Num, d)
			}
		}
	}

	layer := map[string]int{}
	for l, ids := range s.Order() {
		for _, id := range ids {
			if _, dup := layer[id]; dup {
				t.Fatalf("stage %s in two layers: %q", id, s.Order())
			}
			layer[id] = l
		}
	}
	if len(layer) != len(s.Stages) {
		t.Fatalf("Order has %d stages, the score %d", len(layer), len(s.Stages))
	}
	for _, st := range s.Stages {
		for _, d := range st.DependsOn {
			if layer[d] >= layer[st.ID] {
				t.Fatalf("stage %s (layer %d) depends on %s (layer %d)", st.ID, layer[st.ID], d, layer[d])
			}
		}
	}
}

// fuzzData is sample template data for the first voice of a merge stage
// that depends on a three-voice draft stage.
func fuzzData(voice int) TemplateData {
	return TemplateData{
		JobID: "review", JobName: "Review", Workspace: "/w/it's here", ScoreDir: "/s",
		Sheet: 4, TotalSheets: 6, Stage: "merge", Voice: voice, VoiceCount: 3, Attempt: 1,
		Instrument: "shell", Model: "opus",
		Vars: map[string]any{"topic": "actors", "empty": ""},
		Prev: map[string]PrevStage{
			"draft": {Output: "all", Voices: []VoiceOutput{{Output: "one"}, {Output: "two"}, {Output: "three"}}},
		},
	}
}

var (
	fuzzRange  = regexp.MustCompile(`\brange\b`)
	fuzzBigNum = regexp.MustCompile(`[0-9]{3}|0[xXoObB_]|[eE][0-9]`)
)

// FuzzRender renders arbitrary templates. Properties:
//   - Render never panics, and returns output or a *TemplateError (the type
//     itself), never both;
//   - a TemplateError carries the name, a message, and a line inside the text;
//     its Error() starts with "template <name>";
//   - rendering is deterministic; text without "{{" renders as itself;
//   - Quote always gives one shell word that unquotes to its input.
func FuzzRender(f *testing.F) {
	f.Fuzz(func(t *testing.T, name, text string, voice int) {
		if fuzzRange.MatchString(text) && fuzzBigNum.MatchString(text) {
			// {{range 1000000000}} runs as long as it is told to: templates
			// are the score author's own, so that is not a bug.
			t.Skip("range over a large number")
		}
		data := fuzzData(voice)
		out, err := Render(name, text, data)
		if err != nil {
			te, ok := err.(*TemplateError)
			if !ok {
				t.Fatalf("error is %T, want *TemplateError: %v", err, err)
			}
			lines := strings.Count(text, "\n") + 1
			switch {
			case out != "":
				t.Fatalf("output %q returned with an error", out)
			case te.Name != name || te.Msg == "":
				t.Fatalf("TemplateError %+v for name %q", te, name)
			case te.Line < 0 || te.Col < 0 || te.Line > lines || te.Line == 0 && te.Col != 0:
				t.Fatalf("TemplateError at %d:%d in a %d-line template: %v", te.Line, te.Col, lines, te)
			case !strings.HasPrefix(te.Error(), "template "+name):
				t.Fatalf("Error() = %q", te.Error())
			}
		}
		out2, err2 := Render(name, text, data)
		if out2 != out || fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Fatalf("Render is not deterministic: %q, %v then %q, %v", out, err, out2, err2)
		}
		if !strings.Contains(text, "{{") && (err != nil || out != text) {
			t.Fatalf("text without actions rendered as %q, %v", out, err)
		}

		q := Quote(text)
		if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' || strings.ReplaceAll(q[1:len(q)-1], `'\''`, "'") != text {
			t.Fatalf("Quote(%q) = %q", text, q)
		}
	})
}
