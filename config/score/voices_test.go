package score

import (
	"path/filepath"
	"strings"
	"testing"
)

// Voices left out come from instruments, else from voice_vars when the
// stage reads them; each sheet gets its voice's element and instrument, and
// its own workspace.
func TestVoicesFromVoiceVarsAndInstruments(t *testing.T) {
	src := `voice_vars = { task = ["a", "b", "c"], n = [1, 2, 3] }
[defaults]
instrument = "shell"
[vars]
list = ["x", "y"]
[[stage]]
id = "work"
prompt = "{{.VoiceVars.task}} {{.VoiceVars.n}} {{index .Vars.list 1}}"
workspace = "wt/{{.JobID}}-{{.Voice}}"
[[stage]]
id = "ensemble"
instruments = ["claude-code", "codex", "gemini"]
prompt = "p"
[[stage]]
id = "plain"
prompt = "no voice vars here"
`
	s, err := Parse("/tmp/sc/s.toml", []byte(src), known)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{3, 3, 1} {
		if got := s.Stages[i].Voices; got != want {
			t.Errorf("stage %s: %d voices, want %d", s.Stages[i].ID, got, want)
		}
	}
	sheets := s.Sheets()
	for i, want := range []string{"a 1 y", "b 2 y", "c 3 y"} {
		sh := sheets[i]
		got, err := Render("p", sh.Stage.PromptText, s.Data(sh, 1, nil))
		if err != nil || got != want {
			t.Errorf("voice %d: %q, %v; want %q", sh.Voice, got, err, want)
		}
		ws, err := s.SheetWorkspace(sh, s.Data(sh, 1, nil))
		if wantWS := filepath.Join("/tmp/sc/wt", "s-"+string(rune('1'+i))); err != nil || ws != wantWS {
			t.Errorf("voice %d workspace %q, %v; want %q", sh.Voice, ws, err, wantWS)
		}
		if sh.Instrument() != "shell" {
			t.Errorf("voice %d instrument %q", sh.Voice, sh.Instrument())
		}
	}
	for i, want := range []string{"claude-code", "codex", "gemini"} {
		if got := sheets[3+i].Instrument(); got != want {
			t.Errorf("ensemble voice %d: %q, want %q", i+1, got, want)
		}
		if got := s.Data(sheets[3+i], 1, nil).Instrument; got != want {
			t.Errorf("ensemble voice %d template .Instrument %q", i+1, got)
		}
	}
	if ws, _ := s.SheetWorkspace(sheets[6], s.Data(sheets[6], 1, nil)); ws != s.Workspace {
		t.Errorf("a stage without workspace runs in %q, want the score's %q", ws, s.Workspace)
	}
	if got := s.InstrumentNames(); len(got) != 4 {
		t.Errorf("instrument names %v", got)
	}
}

func TestIndexOfAbsentVarIsEmpty(t *testing.T) {
	d := sampleData()
	d.Vars["list"] = []any{"x"}
	for text, want := range map[string]string{
		`[{{index .Vars "absent"}}]`: "[]",
		`{{index .Vars "list" 0}}`:   "x",
		`{{index .Vars.list 0}}`:     "x",
	} {
		got, err := Render("p", text, d)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", text, got, err, want)
		}
	}
	if _, err := Render("p", `{{index .Vars.list 3}}`, d); err == nil {
		t.Error("an index past the end must be an error")
	}
}

// A stage's hash follows its definition, not where it sits in the file;
// vars count, since templates read them.
func TestStageHash(t *testing.T) {
	base := "[vars]\nx = 'a'\n[defaults]\ninstrument = 'shell'\n[[stage]]\nid = 'a'\nprompt = 'p'\n[[stage]]\nid = 'b'\nprompt = 'q'\n"
	hash := func(src string, stage int) string {
		t.Helper()
		s, err := Parse("/tmp/h.toml", []byte(src), known)
		if err != nil {
			t.Fatal(err)
		}
		return s.StageHash(stage)
	}
	h := hash(base, 0)
	if len(h) != 12 || hash(base, 0) != h {
		t.Fatalf("hash %q is not a stable 12-digit hash", h)
	}
	for _, tc := range []struct {
		name, src string
		same      bool
	}{
		{"moved down by a comment", "# note\n\n" + base, true},
		{"other stage edited", base[:len(base)-3] + "r'\n", true},
		{"prompt edited", "[vars]\nx = 'a'\n[defaults]\ninstrument = 'shell'\n[[stage]]\nid = 'a'\nprompt = 'p2'\n", false},
		{"var edited", "[vars]\nx = 'b'\n" + base[len("[vars]\nx = 'a'\n"):], false},
		{"an empty backoff table changes nothing", base + "[defaults.backoff]\n", true},
		{"attempts changed", strings.Replace(base, "instrument", "attempts = 5\ninstrument", 1), false},
		{"worktree on", "[vars]\nx = 'a'\n[defaults]\ninstrument = 'shell'\n[[stage]]\nid = 'a'\nworktree = true\nprompt = 'p'\n", false},
	} {
		if got := hash(tc.src, 0); (got == h) != tc.same {
			t.Errorf("%s: hash %s vs %s, want same = %v", tc.name, got, h, tc.same)
		}
	}
}

// Every voice's element is checked at validation, not only the first's.
func TestVoiceVarsCheckedPerVoice(t *testing.T) {
	src := "voice_vars = { t = [{ name = 'a' }, { nom = 'b' }] }\n[defaults]\ninstrument = 'shell'\n[[stage]]\nid = 's'\nprompt = '{{.VoiceVars.t.name}}'\n"
	_, err := Parse("/tmp/v.toml", []byte(src), known)
	if err == nil || !strings.Contains(err.Error(), "voice 2") {
		t.Fatalf("err = %v, want a problem for voice 2", err)
	}
}
