package score

import (
	"errors"
	"testing"

	"github.com/mzt-dev/mzt/config/strict"
)

// A template error inside a one-line string with "\n" escapes is reported on
// the key's line, never past the end of the file (found by fuzzing).
func TestTemplateErrorLineInOneLineString(t *testing.T) {
	src := "[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"a\"\nprompt = \"one\\ntwo\\nthree\\n{{.Nope}}\"\n"
	_, err := Parse("/tmp/s.toml", []byte(src), map[string]bool{"shell": true})
	var ps strict.Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	if ps[0].Line != 5 {
		t.Fatalf("problem on line %d, want 5: %s", ps[0].Line, ps[0])
	}
}

// A template that would produce endless output fails instead (fuzzing found
// a range over a huge number).
func TestRenderOutputIsBounded(t *testing.T) {
	_, err := Render("big", "{{range 100000000}}xxxxxxxxxx{{end}}", TemplateData{})
	var te *TemplateError
	if !errors.As(err, &te) {
		t.Fatalf("want a *TemplateError, got %v", err)
	}
}
