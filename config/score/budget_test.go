package score

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// renderWithin renders text, failing the test if it takes longer than a
// deadline far above what a bounded render needs (an unbounded one would
// run for hours).
func renderWithin(t *testing.T, text string) (string, error) {
	t.Helper()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := Render("prompt", text, sampleData())
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("rendering %q did not end within 30 s", text)
		return "", nil
	}
}

func TestRenderIsBounded(t *testing.T) {
	tests := []struct {
		name, text, msg string
	}{
		{"nested ranges", "{{range 100000}}{{range 100000}}{{end}}{{end}}", "exceeds the render budget (250000 steps)"},
		{"one long range", "{{range 100000000}}{{end}}", "exceeds the render budget"},
		{"endless output", "{{range 100000000}}" + strings.Repeat("x", 200) + "{{end}}", "exceeds the output limit (4194304 bytes)"},
		{"string doubling", `{{$x := "ab"}}{{range 64}}{{$x = printf "%s%s" $x $x}}{{end}}`, "exceeds the output limit"},
		{"doubling through quote", `{{$x := "''''"}}{{range 64}}{{$x = quote $x}}{{end}}`, "exceeds the output limit"},
		{"many large strings", `{{$x := printf "%900000d" 1}}{{range 100000}}{{$y := print $x}}{{end}}`, "exceeds the render budget"},
		{"template calls fan out", `{{define "a"}}{{template "b"}}{{template "b"}}{{template "b"}}{{template "b"}}{{end}}` +
			`{{define "b"}}{{template "c"}}{{template "c"}}{{template "c"}}{{template "c"}}{{end}}` +
			`{{define "c"}}{{range 1000}}{{end}}{{end}}{{range 1000}}{{template "a"}}{{end}}`, "exceeds the render budget"},
		{"recursion", `{{define "loop"}}{{template "loop" .}}{{end}}{{template "loop" .}}`, `template "loop" calls itself`},
		{"mutual recursion", `{{define "a"}}{{template "b"}}{{end}}{{define "b"}}{{template "a"}}{{end}}{{template "a"}}`, "calls itself"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := renderWithin(t, tt.text)
			var te *TemplateError
			if !errors.As(err, &te) || !strings.Contains(te.Msg, tt.msg) || out != "" {
				t.Fatalf("Render = %q, %v; want a *TemplateError saying %q", out, err, tt.msg)
			}
			if strings.Contains(te.Error(), budgetFunc) {
				t.Errorf("the message shows the budget's plumbing: %v", te)
			}
		})
	}
}

// What a real prompt does stays well within the budget, and the rewrite
// changes nothing in the output.
func TestRenderWithinBudget(t *testing.T) {
	tests := []struct{ text, want string }{
		{"{{range 3}}{{.}}{{end}}", "012"},
		{"{{range $i, $v := .Prev.draft.Voices}}{{$i}}={{$v.Output}} {{end}}", "0=one 1=two 2=three "},
		{"{{range 10000}}x{{end}}", strings.Repeat("x", 10000)},
		{`{{define "v"}}<{{.Output}}>{{end}}{{range .Prev.draft.Voices}}{{template "v" .}}{{end}}`, "<one><two><three>"},
		{`{{printf "%s-%d" .Stage .Voice}} {{html "<a>"}} {{js "'"}} {{urlquery "a b"}} {{print 1 2}}`, `merge-2 &lt;a&gt; \' a+b 1 2`},
		{"{{range 5}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}", "01"},
	}
	for _, tt := range tests {
		out, err := renderWithin(t, tt.text)
		if err != nil || out != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.text, out, err, tt.want)
		}
	}
}

// A loop only one voice takes is found at validation: every voice a template
// can tell apart is rendered, not only the first.
func TestParseChecksEveryVoice(t *testing.T) {
	src := `[defaults]
instrument = "shell"
[[stage]]
id = "fan"
voices = 3
prompt = "echo {{if eq .Voice 2}}{{range 100000}}{{range 100000}}{{end}}{{end}}{{end}}"
[[stage]]
id = "after"
prompt = "echo {{if eq .Sheet 4}}{{.Nope}}{{end}}"
`
	_, err := Parse("/tmp/poison.toml", []byte(src), nil)
	var ps strict.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("Parse = %v, want two problems", err)
	}
	if p := ps[0]; p.Line != 6 || !strings.Contains(p.Msg, "bad template in prompt: voice 2: exceeds the render budget (250000 steps)") {
		t.Errorf("problem = %s", p)
	}
	if p := ps[1]; p.Line != 9 || !strings.Contains(p.Msg, ".Nope is not a template field") {
		t.Errorf("problem = %s", p)
	}
}

// Templates that each stay within their own budget can still add up to too
// much for one validation: that is said once, not once per stage.
func TestParseValidationBudget(t *testing.T) {
	data := chainScore(200, 50, "{{range 1000}}{{.}}{{end}}{{.Voice}}")
	_, err := Parse("/tmp/heavy.toml", data, nil)
	var ps strict.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Msg, "exceed the validation budget (5000000 steps") {
		t.Fatalf("Parse = %v, want one problem about the validation budget", err)
	}
}
