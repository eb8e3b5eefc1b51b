package score

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"text/template"
)

func sampleData() TemplateData {
	return TemplateData{
		JobID: "review", JobName: "Review", Workspace: "/w/it's here", ScoreDir: "/s",
		Sheet: 4, TotalSheets: 6, Stage: "merge", Voice: 2, VoiceCount: 3, Attempt: 1,
		Instrument: "shell", Model: "",
		Vars: map[string]any{"topic": "actors", "empty": ""},
		Prev: map[string]PrevStage{
			"draft": {Output: "all", Voices: []VoiceOutput{{Output: "one"}, {Output: "two"}, {Output: "three"}}},
		},
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"fields", "{{.JobID}} {{.JobName}} {{.Sheet}}/{{.TotalSheets}} {{.Stage}} {{.Voice}}/{{.VoiceCount}} {{.Attempt}} {{.Instrument}}[{{.Model}}] {{.ScoreDir}}",
			"review Review 4/6 merge 2/3 1 shell[] /s"},
		{"vars", "about {{.Vars.topic}}", "about actors"},
		{"prev output and voices", "{{.Prev.draft.Output}} {{(index .Prev.draft.Voices 0).Output}} {{len .Prev.draft.Voices}}", "all one 3"},
		{"voice arithmetic", "{{(index .Prev.draft.Voices (sub .Voice 1)).Output}} {{add .Voice 1}}", "two 3"},
		{"quote", "cd {{quote .Workspace}}", `cd '/w/it'\''s here'`},
		{"quote in a pipeline", "{{.Workspace | quote}}", `'/w/it'\''s here'`},
		{"upper lower trim", "{{upper .Vars.topic}} {{lower \"AB\"}} [{{trim \"  x  \"}}]", "ACTORS ab [x]"},
		{"default", "{{default \"none\" .Vars.empty}} {{default \"none\" .Vars.topic}}", "none actors"},
		{"optional var with index", "[{{index .Vars \"absent\"}}]", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.name, tt.text, sampleData())
			if err != nil || got != tt.want {
				t.Errorf("Render(%q) = %q, %v; want %q", tt.text, got, err, tt.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line, col  int
		msg        string
	}{
		{"undefined var", "x\nabout {{.Vars.nope}}", 2, 13, `undefined var "nope" (define it under [vars])`},
		{"stage not upstream", "{{.Prev.other.Output}}", 1, 7, `.Prev.other: "other" is not a stage this stage depends on, directly or not`},
		{"unknown field", "{{.Nope}}", 1, 2, ".Nope is not a template field (fields: .JobID .JobName .Workspace .ScoreDir .Sheet .TotalSheets .Stage .Voice .VoiceCount .Attempt .Instrument .Model .Vars .VoiceVars .Prev .LastFailure)"},
		{"unknown field of an earlier stage", "{{.Prev.draft.Outptu}}", 1, 7, ".Prev.draft.Outptu is not a field of an earlier stage (fields: .Output .Voices)"},
		{"field of a voice", "{{(index .Prev.draft.Voices 0).Outptu}}", 1, 28, ".Outptu is not a field of a voice (fields: .Output .Workspace .Branch)"},
		{"field of a list", "{{.Prev.draft.Voices.Output}}", 1, 7, ".Prev.draft.Voices.Output: a list has no fields: pick one with index"},
		{"field of a string", "{{.Vars.topic.Name}}", 1, 7, ".Vars.topic.Name: this value has no fields"},
		{"field of a number", "{{.Voice.Name}}", 1, 8, ".Voice.Name: a number has no fields"},
		{"unknown function", "{{shout .Stage}}", 1, 0, `function "shout" not defined`},
		{"unclosed action", "ok\n{{if .Voice}}", 2, 0, "unexpected EOF"},
		{"index out of range", "{{index .Prev.draft.Voices 5}}", 1, 2, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render("prompt", tt.text, sampleData())
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want *TemplateError", err)
			}
			if te.Name != "prompt" || te.Line != tt.line || te.Col != tt.col || !strings.Contains(te.Msg, tt.msg) {
				t.Errorf("got %+v, want line %d col %d msg ~ %q", *te, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func TestQuoteIsOneShellWord(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	for _, s := range []string{"", "plain", "it's", "''", `"$HOME" $(rm -rf /) ; | & \ *`, "new\nline", "tab\there"} {
		out, err := exec.Command("bash", "-c", "printf %s "+Quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("bash read %s as %q (%v), want %q", Quote(s), out, err, s)
		}
	}
}

func TestData(t *testing.T) {
	s := mustLoad(t, "review.toml")
	sh := s.Sheets()[1]
	d := s.Data(sh, 2, nil)
	if d.Sheet != 2 || d.Voice != 2 || d.VoiceCount != 3 || d.TotalSheets != 6 || d.Attempt != 2 ||
		d.Stage != "draft" || d.JobID != "review" || d.Workspace != s.Workspace || d.Prev == nil || d.Vars["topic"] != "actors" {
		t.Errorf("Data = %+v", d)
	}
	got, err := Render("p", s.Stages[0].PromptText, d)
	if want := "echo 'draft 2 of 3 about actors' > '" + s.Workspace + "'/draft-2.md"; err != nil || got != want {
		t.Errorf("prompt = %q, %v\nwant %q", got, err, want)
	}
}

func TestJoin(t *testing.T) {
	// TemplateData holds no string slice, and text/template has no list
	// literal, so join is tried on data of its own.
	tmpl := template.Must(template.New("j").Funcs(funcs(&budget{})).Parse(`{{join ", " .}}`))
	var b strings.Builder
	if err := tmpl.Execute(&b, []string{"a", "b"}); err != nil || b.String() != "a, b" {
		t.Errorf("join = %q, %v", b.String(), err)
	}
}
