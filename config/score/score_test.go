package score

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

var known = map[string]bool{"shell": true, "claude-code": true, "codex": true, "gemini": true}

const scores = "../../testdata/scores"

func mustLoad(t *testing.T, name string) *Score {
	t.Helper()
	s, err := Load(filepath.Join(scores, name), known)
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	return s
}

func TestParseValidScore(t *testing.T) {
	s := mustLoad(t, "review.toml")
	dir, _ := filepath.Abs(scores)
	if s.ID != "review" || s.Name != "Parallel review" || s.Dir != dir ||
		s.Path != filepath.Join(dir, "review.toml") || s.Workspace != filepath.Join(dir, "ws", "review") {
		t.Errorf("score header: id %q name %q dir %q path %q workspace %q", s.ID, s.Name, s.Dir, s.Path, s.Workspace)
	}
	if s.MaxParallel != 4 || s.FailFast || s.Vars["topic"] != "actors" || len(s.Source) == 0 {
		t.Errorf("run/vars: %d %v %v", s.MaxParallel, s.FailFast, s.Vars)
	}
	if len(s.Stages) != 4 {
		t.Fatalf("%d stages", len(s.Stages))
	}
	draft, merge, check, notes := s.Stages[0], s.Stages[1], s.Stages[2], s.Stages[3]

	if draft.Voices != 3 || draft.Instrument != "shell" || draft.Attempts != 3 || draft.Timeout.D() != 30*time.Minute ||
		draft.Line != 21 || len(draft.DependsOn) != 0 || draft.Validate[0].Line != 25 {
		t.Errorf("draft: %+v", draft)
	}
	// A stage's keys override [defaults] key by key, backoff field by field, env name by name.
	jitter := true
	wantMerge := Settings{
		Instrument: "claude-code", Model: "opus", Timeout: strict.Duration(30 * time.Minute), Attempts: 2,
		Backoff:          &Backoff{Base: strict.Duration(time.Second), Max: strict.Duration(10 * time.Minute), Factor: 2, Jitter: &jitter},
		MaxRateLimitWait: strict.Duration(6 * time.Hour),
		Env:              map[string]string{"LANG": "C.UTF-8", "MERGE": "1"},
	}
	if !reflect.DeepEqual(merge.Settings, wantMerge) {
		t.Errorf("merge settings:\n got %+v %+v\nwant %+v %+v", merge.Settings, *merge.Backoff, wantMerge, *wantMerge.Backoff)
	}
	if merge.PromptFile != "prompts/merge.tmpl" || !strings.HasPrefix(merge.PromptText, "Merge the {{len .Prev.draft.Voices}}") {
		t.Errorf("merge prompt: %q %q", merge.PromptFile, merge.PromptText)
	}
	wantV := []Validation{
		{Type: ContentRegex, Path: "{{.Workspace}}/merged.md", Pattern: "(?m)^## Summary", Since: SinceRun, Line: 38},
		{Type: Command, Run: "test $(wc -w < merged.md) -ge 100", Timeout: strict.Duration(time.Minute), Line: 42},
	}
	if !reflect.DeepEqual(merge.Validate, wantV) {
		t.Errorf("merge validations:\n got %+v\nwant %+v", merge.Validate, wantV)
	}
	if !reflect.DeepEqual(check.DependsOn, []string{"merge"}) || check.Timeout.D() != 5*time.Minute || check.Model != "" {
		t.Errorf("check: depends on %q, timeout %v", check.DependsOn, check.Timeout)
	}
	if notes.DependsOn == nil || len(notes.DependsOn) != 0 {
		t.Errorf("notes: depends_on = [] must resolve to no dependency, got %#v", notes.DependsOn)
	}
	if draft.Backoff == merge.Backoff || &draft.Env == &merge.Env {
		t.Error("stages must not share settings")
	}
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nightly-build.toml")
	s, err := Parse(path, []byte("[[stage]]\nid = 'a'\ninstrument = 'shell'\nprompt = 'true'\n"), known)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stages[0]
	if s.ID != "nightly-build" || s.Name != "nightly-build" || s.Workspace != filepath.Join(dir, "workspaces", "nightly-build") ||
		s.MaxParallel != DefaultMaxParallel || s.FailFast || s.Vars == nil {
		t.Errorf("score defaults: %+v", s)
	}
	if st.Attempts != 3 || st.Voices != 1 || st.Timeout != 0 || st.MaxRateLimitWait.D() != 6*time.Hour ||
		st.Backoff.Base.D() != 10*time.Second || st.Backoff.Max.D() != 10*time.Minute || st.Backoff.Factor != 2 ||
		!*st.Backoff.Jitter || st.Env == nil || st.DependsOn == nil {
		t.Errorf("stage defaults: %+v %+v", st, *st.Backoff)
	}

	if err := s.SetID("other"); err != nil || s.ID != "other" || s.Name != "other" || s.Workspace != filepath.Join(dir, "workspaces", "other") {
		t.Errorf("SetID: %v %+v", err, s)
	}
	if err := s.SetID("no way"); err == nil {
		t.Error("SetID must refuse an invalid id")
	}
	s2 := mustLoad(t, "review.toml")
	ws := s2.Workspace
	if err := s2.SetID("again"); err != nil || s2.Workspace != ws || s2.Name != "Parallel review" {
		t.Errorf("SetID must keep a workspace and a name the score sets: %q %q", s2.Workspace, s2.Name)
	}
}

func TestNilInstrumentsSkipsTheCheck(t *testing.T) {
	if _, err := Parse("x.toml", []byte("[defaults]\ninstrument = 'anything'\n[[stage]]\nid = 'a'\nprompt = 'p'\n"), nil); err != nil {
		t.Error(err)
	}
}

func TestSheetsAndOrder(t *testing.T) {
	s := mustLoad(t, "review.toml")
	type sheet struct {
		num          int
		stage        string
		voice, count int
		deps         []int
	}
	want := []sheet{
		{1, "draft", 1, 3, nil},
		{2, "draft", 2, 3, nil},
		{3, "draft", 3, 3, nil},
		{4, "merge", 1, 1, []int{1, 2, 3}},
		{5, "check", 1, 1, []int{4}},
		{6, "notes", 1, 1, nil},
	}
	var got []sheet
	for i, sh := range s.Sheets() {
		if sh.Stage != &s.Stages[sh.StageIndex] {
			t.Errorf("sheet %d: Stage does not point into Stages", sh.Num)
		}
		got = append(got, sheet{sh.Num, sh.Stage.ID, sh.Voice, sh.VoiceCount, sh.Deps})
		if i > 0 && len(sh.Deps) == 0 && sh.Deps != nil {
			t.Errorf("sheet %d: empty non-nil deps", sh.Num)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sheets:\n got %v\nwant %v", got, want)
	}
	if s.TotalSheets() != 6 {
		t.Errorf("TotalSheets = %d", s.TotalSheets())
	}
	if got, want := s.Order(), [][]string{{"draft", "notes"}, {"merge"}, {"check"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order = %v, want %v", got, want)
	}
	if got := s.Ancestors(2); !reflect.DeepEqual(got, []string{"draft", "merge"}) {
		t.Errorf("Ancestors(check) = %v", got)
	}
}

func TestSheetsFanOutToFanOut(t *testing.T) {
	// Two fan-outs in a row, a diamond, and a dependency on a later stage.
	src := `[defaults]
instrument = "shell"
[[stage]]
id = "a"
prompt = "x"
voices = 2
[[stage]]
id = "b"
prompt = "x"
voices = 2
[[stage]]
id = "c"
depends_on = ["a", "e"]
prompt = "x"
[[stage]]
id = "d"
depends_on = ["b", "c"]
prompt = "x"
[[stage]]
id = "e"
depends_on = []
prompt = "x"
voices = 3
`
	s, err := Parse("fan.toml", []byte(src), known)
	if err != nil {
		t.Fatal(err)
	}
	deps := map[int][]int{}
	for _, sh := range s.Sheets() {
		deps[sh.Num] = sh.Deps
	}
	want := map[int][]int{1: nil, 2: nil, 3: {1, 2}, 4: {1, 2}, 5: {1, 2, 7, 8, 9}, 6: {3, 4, 5}, 7: nil, 8: nil, 9: nil}
	if !reflect.DeepEqual(deps, want) {
		t.Errorf("deps = %v\nwant %v", deps, want)
	}
	if got, want := s.Order(), [][]string{{"a", "e"}, {"b", "c"}, {"d"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order = %v, want %v", got, want)
	}
}

// problem is what a test expects of one strict.Problem.
type problem struct {
	file string // "" = the score file
	line int
	msg  string // a substring of Msg
}

func checkProblems(t *testing.T, file string, err error, want []problem) {
	t.Helper()
	var ps strict.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want strict.Problems", err)
	}
	if len(ps) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		p := ps[i]
		wf := file
		if w.file != "" {
			wf = w.file
		}
		if p.File != wf || p.Line != w.line || !strings.Contains(p.Msg, w.msg) {
			t.Errorf("problem %d = %q\nwant %s:%d: ...%s...", i, p.String(), wf, w.line, w.msg)
		}
	}
}

func TestSampleScoreProblems(t *testing.T) {
	tests := []struct {
		file string
		want []problem
	}{
		{"unknown-keys.toml", []problem{
			{"", 1, `unknown key "nmae" (did you mean "name"?)`},
			{"", 5, `unknown key "atempts" (did you mean "attempts"?)`},
			{"", 10, `unknown key "voice" (did you mean "voices"?)`},
			{"", 11, `a file_exists validation needs path`},
			{"", 13, `unknown key "paht" (did you mean "path"?)`},
		}},
		{"types.toml", []problem{
			{"", 3, `"attempts" must be an integer, not a string`},
			{"", 4, `"timeout" must be a duration string such as "30s"`},
			{"", 9, `unknown key "attemps" (did you mean "attempts"?)`},
		}},
		{"cycle.toml", []problem{
			{"", 6, `cycle in depends_on: a -> c -> b -> a`},
			{"", 19, `cycle in depends_on: d -> d`},
		}},
		{"templates.toml", []problem{
			{filepath.Join(scores, "prompts", "bad.tmpl"), 2, `bad template: undefined var "nope" (define it under [vars])`},
			{"", 8, `bad template in prompt: undefined var "missing"`},
			{"", 17, `bad template in prompt: unexpected EOF`},
		}},
		{"invalid.toml", []problem{
			{"", 1, `id "bad id!" is not a valid job id`},
			{"", 4, `unknown instrument "claud-code" (did you mean "claude-code"?)`},
			{"", 5, `timeout must be more than 0, not 0s`},
			{"", 8, `max_parallel must be 1 or more, not 0`},
			{"", 11, `stage id "Draft" must be lowercase letters`},
			{"", 13, `attempts must be 1 or more, not 0`},
			{"", 14, `voices must be between 1 and 1000, not 0`},
			{"", 18, `stage merge depends on unknown stage "draf" (did you mean "Draft"?)`},
			{"", 20, `stage merge has both prompt and prompt_file`},
			{"", 23, `stage id "merge" is already used by the stage on line 16`},
			{"", 24, `prompt file ` + filepath.Join(scores, "prompts", "missing.tmpl") + ` not found`},
			{"", 25, `backoff.factor must be 1 or more, not 0.5`},
			{"", 25, `backoff.max (1s) must not be less than backoff.base (10s)`},
			{"", 31, `bad template in prompt: undefined var "undefined"`},
			{"", 33, `unknown validation type "file_exist" (did you mean "file_exists"?); valid types: file_exists, file_modified, content_contains, content_regex, command`},
			{"", 38, `a file_exists validation does not use run (it uses type, path, since)`},
			{"", 42, `invalid pattern: error parsing regexp`},
			{"", 43, `a command validation needs run`},
			{"", 47, `bad template in run: .Nope is not a template field (fields: .JobID .JobName`},
			{"", 48, `validation timeout must be more than 0, not -1s`},
			{"", 50, `stage nothing has no prompt`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(scores, tt.file)
			_, err := Load(path, known)
			checkProblems(t, path, err, tt.want)
		})
	}
}

func TestProblems(t *testing.T) {
	const head = "[defaults]\ninstrument = \"shell\"\n" // lines 1-2
	tests := []struct {
		name string
		src  string
		want []problem
	}{
		{"syntax error", "[defaults\n", []problem{{"", 1, "expected ']' to close table name"}}},
		{"no stages", head, []problem{{"", 0, "the score has no stages"}}},
		{"no instrument anywhere", "[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage]]\nid = 'b'\nprompt = 'p'\n",
			[]problem{{"", 1, "stage a has no instrument: set instrument in [defaults] or in the stage"}, {"", 4, "stage b has no instrument"}}},
		{"unknown instrument on a stage, no suggestion", head + "[[stage]]\nid = 'a'\nprompt = 'p'\ninstrument = 'zzz'\n",
			[]problem{{"", 6, `unknown instrument "zzz" (known: claude-code, codex, gemini, shell)`}}},
		{"stage without id", head + "[[stage]]\nprompt = 'p'\n", []problem{{"", 3, "stage 1 has no id"}}},
		{"unknown stage in depends_on", head + "[[stage]]\nid = 'draft'\nprompt = 'p'\n[[stage]]\nid = 'merge'\nprompt = 'p'\ndepends_on = [\n  'draft',\n  'drfat',\n]\n",
			[]problem{{"", 11, `stage merge depends on unknown stage "drfat" (did you mean "draft"?)`}}},
		{"dependency listed twice", head + "[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage]]\nid = 'b'\nprompt = 'p'\ndepends_on = ['a', 'a']\n",
			[]problem{{"", 9, `stage b lists "a" twice in depends_on`}}},
		{"prev of a stage that is not upstream", head + "[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage]]\nid = 'b'\ndepends_on = []\nprompt = '{{.Prev.a.Output}}'\n",
			[]problem{{"", 9, `.Prev.a: "a" is not a stage this stage depends on`}}},
		{"prev of an indirect ancestor is fine, voices too", head + "[[stage]]\nid = 'a'\nprompt = 'p'\nvoices = 2\n[[stage]]\nid = 'b'\nprompt = 'p'\n[[stage]]\nid = 'c'\nprompt = '{{.Prev.a.Output}}{{(index .Prev.a.Voices 1).Output}}{{.Prev.b.Output}}'\n",
			nil},
		{"undefined function", head + "[[stage]]\nid = 'a'\nprompt = '{{shout .Stage}}'\n", []problem{{"", 5, `function "shout" not defined`}}},
		{"templates in every validation field", head + "[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage.validate]]\ntype = 'content_contains'\npath = '{{.Nope}}'\ncontains = '{{.Vars.x}}'\n[[stage.validate]]\ntype = 'content_regex'\npath = 'f'\npattern = '{{.Stage'\n",
			[]problem{{"", 8, "bad template in path"}, {"", 9, `bad template in contains: undefined var "x"`}, {"", 13, "bad template in pattern"}}},
		{"templated pattern is not compiled", head + "[vars]\nx = 'a'\n[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage.validate]]\ntype = 'content_regex'\npath = 'f'\npattern = '({{.Vars.x}}'\n",
			nil},
		{"empty values", head + "[[stage]]\nid = 'a'\nprompt = ' '\n[[stage.validate]]\ntype = 'content_contains'\npath = ''\ncontains = ''\n",
			[]problem{{"", 5, "stage a has an empty prompt"}, {"", 8, "validation path is empty"}, {"", 9, "validation contains is empty"}}},
		{"validation without type", head + "[[stage]]\nid = 'a'\nprompt = 'p'\nvalidate = [{ path = 'x' }]\n",
			[]problem{{"", 6, "validation has no type; valid types: file_exists"}}},
		{"keys a validation type does not use", head + "[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage.validate]]\ntype = 'command'\nrun = 'true'\npath = 'x'\npattern = 'y'\n",
			[]problem{{"", 9, "a command validation does not use path (it uses type, run, timeout)"}, {"", 10, "does not use pattern"}}},
		{"timeout on a file check", head + "[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage.validate]]\ntype = 'file_modified'\npath = 'x'\ntimeout = '1s'\n",
			[]problem{{"", 9, "a file_modified validation does not use timeout"}}},
		{"bad durations and numbers", head + "timeout = '-1s'\nmax_rate_limit_wait = '0s'\nbackoff = { base = '-1s' }\n[[stage]]\nid = 'a'\nprompt = 'p'\nvoices = 1001\nenv = { 'A=B' = 'x' }\n",
			[]problem{{"", 3, "timeout must be more than 0"}, {"", 4, "max_rate_limit_wait must be more than 0"}, {"", 5, "backoff.base must not be negative"},
				{"", 9, "voices must be between 1 and 1000, not 1001"}, {"", 10, `env name "A=B"`}}},
		{"empty instrument", "[defaults]\ninstrument = ''\n[[stage]]\nid = 'a'\nprompt = 'p'\n",
			[]problem{{"", 2, "instrument must not be empty"}, {"", 3, "stage a has no instrument"}}},
		{"since on a file check, a bad value and on a command", head + "[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage.validate]]\ntype = 'file_exists'\npath = 'x'\nsince = 'try'\n[[stage.validate]]\ntype = 'content_contains'\npath = 'x'\ncontains = 'y'\nsince = 'rnu'\n[[stage.validate]]\ntype = 'command'\nrun = 'true'\nsince = 'run'\n",
			[]problem{{"", 14, `since must be "run", "try" or "any", not "rnu" (did you mean "run"?)`}, {"", 18, "a command validation does not use since"}}},
		{"worktree voices sharing one workspace; keys misspelt", "keep_worktree = true\n" + head + "[[stage]]\nid = 's'\nvoices = 2\nworktree = true\nworkspace = 'wt/one'\nprompt = 'p'\n[[stage]]\nid = 't'\nworktre = true\nprompt = 'p'\n",
			[]problem{{"", 1, `unknown key "keep_worktree" (did you mean "keep_worktrees"?)`}, {"", 8, "with worktree = true each voice needs its own workspace"}, {"", 12, `unknown key "worktre" (did you mean "worktree"?)`}}},
		{"vars may be arrays and tables", head + "[vars]\nlist = ['a', 'b']\nt = { k = 'v' }\n[[stage]]\nid = 'a'\nprompt = '{{index .Vars.list 1}}{{.Vars.t.k}}'\n",
			nil},
		{"voice_vars: not an array, lengths differ, too few for the voices", "voice_vars = { a = 'x', b = ['1', '2'], c = ['1'] }\n" + head + "[[stage]]\nid = 's'\nvoices = 3\nprompt = '{{.VoiceVars.b}}'\n",
			[]problem{{"", 1, "voice_vars.a must be an array, one element per voice, not a string"}, {"", 1, "voice_vars.c has 1 elements but voice_vars.b has 2"},
				{"", 4, "stage s has 3 voices but the voice_vars arrays have 2 elements"}}},
		{"undefined voice var", "voice_vars = { b = ['1', '2'] }\n" + head + "[[stage]]\nid = 's'\nprompt = '{{.VoiceVars.x}}'\n",
			[]problem{{"", 6, `undefined voice var "x"`}}},
		{"instruments: unknown with a suggestion, count differs from voices", head + "[[stage]]\nid = 's'\nvoices = 2\ninstruments = ['shell', 'claud-code', 'codex']\nprompt = 'p'\n",
			[]problem{{"", 6, "stage s lists 3 instruments for 2 voices"}, {"", 6, `unknown instrument "claud-code" (did you mean "claude-code"?)`}}},
		{"stage workspace: empty, bad template", head + "[[stage]]\nid = 's'\nworkspace = ' '\nprompt = 'p'\n[[stage]]\nid = 't'\nworkspace = 'wt/{{.Voic}}'\nprompt = 'p'\n",
			[]problem{{"", 5, "stage s has an empty workspace"}, {"", 9, "bad template in workspace: .Voic is not a template field"}}},
		{"a budget must be positive", head + "[run]\nmax_cost_usd = 0.0\n[[stage]]\nid = 'a'\nprompt = 'p'\n",
			[]problem{{"", 4, "max_cost_usd must be a positive number of US dollars, not 0"}}},
		{"a budget in dollars is fine", head + "[run]\nmax_cost_usd = 2.5\n[[stage]]\nid = 'a'\nprompt = 'p'\n", nil},
		{"whole dollars too", head + "[run]\nmax_cost_usd = 5\n[[stage]]\nid = 'a'\nprompt = 'p'\n", nil},
		{"placement fleet, no replace", head + "[run]\nplacement = 'fleet'\nfleet_replace = false\n[[stage]]\nid = 'a'\nprompt = 'p'\n", nil},
		{"placement unknown", head + "[run]\nplacement = 'cloud'\n[[stage]]\nid = 'a'\nprompt = 'p'\n",
			[]problem{{"", 4, `placement must be "local" or "fleet", not "cloud"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("s.toml", []byte(tt.src), known)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				if s == nil {
					t.Fatal("nil score")
				}
				return
			}
			checkProblems(t, "s.toml", err, tt.want)
		})
	}
}

func TestJobIDFromFileName(t *testing.T) {
	_, err := Parse(filepath.Join(t.TempDir(), "my score.toml"), []byte("[[stage]]\nid = 'a'\ninstrument = 'shell'\nprompt = 'p'\n"), known)
	var ps strict.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Msg, `the file name "my score" is not a valid job id: add id = "..."`) {
		t.Errorf("err = %v", err)
	}
}

func TestValidJobID(t *testing.T) {
	for id, want := range map[string]bool{
		"review": true, "a": true, "A.b_c-9": true, "9lives": true, strings.Repeat("x", 100): true,
		"": false, "-x": false, ".x": false, "a b": false, "a/b": false, "../x": false, strings.Repeat("x", 101): false, "é": false,
	} {
		if got := ValidJobID(id); got != want {
			t.Errorf("ValidJobID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"), known)
	var ps strict.Problems
	if !errors.As(err, &ps) || !strings.Contains(err.Error(), "cannot read score") {
		t.Errorf("err = %v", err)
	}
}

func TestPromptFileAbsoluteAndRelative(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "p"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p", "x.tmpl"), []byte("job {{.JobID}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "p", "x.tmpl")
	src := "[defaults]\ninstrument = 'shell'\n[[stage]]\nid = 'a'\nprompt_file = 'p/x.tmpl'\n[[stage]]\nid = 'b'\nprompt_file = '" + abs + "'\n"
	s, err := Parse(filepath.Join(dir, "s.toml"), []byte(src), known)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stages[0].PromptText != "job {{.JobID}}" || s.Stages[1].PromptText != "job {{.JobID}}" {
		t.Errorf("prompt texts: %q %q", s.Stages[0].PromptText, s.Stages[1].PromptText)
	}
}
