package score

import (
	"flag"
	"strings"
	"testing"
	"time"
)

// renderDeadline is far above what a render within RenderBudget takes (a
// quarter of a second on an idle core), so that a busy machine does not make
// findings; an unbounded template runs for hours.
const renderDeadline = 5 * time.Second

// deadline is renderDeadline while fuzzing; when the seeds run as part of
// the ordinary (race-built, every package at once) test run, a seed that
// costs 1.3 s alone can take several times that, so they get a minute:
// still far below what an unbounded template takes.
func deadline() time.Duration {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return renderDeadline
	}
	return time.Minute
}

// FuzzRenderBounded renders arbitrary templates, large loops included, and
// requires each to render or fail within renderDeadline, with output no
// larger than MaxRenderedSize.
func FuzzRenderBounded(f *testing.F) {
	for _, seed := range []string{
		"{{range 100000}}{{range 100000}}{{end}}{{end}}",
		"{{if eq .Voice 2}}{{range 1000000000}}x{{end}}{{end}}",
		`{{$x := "ab"}}{{range 64}}{{$x = printf "%s%s" $x $x}}{{end}}{{$x}}`,
		`{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}`,
		`{{define "a"}}{{range 99}}{{end}}{{end}}{{define "b"}}{{template "a"}}{{template "a"}}{{end}}{{range 999}}{{template "b"}}{{end}}`,
		`{{range $i, $v := .Prev.draft.Voices}}{{range $.Vars}}{{printf "%09999d" $i}}{{end}}{{end}}`,
		`{{range 9999}}{{html (printf "%999999s" "<")}}{{end}}`,
		`{{block "x" .}}{{range 99999}}{{.}}{{end}}{{end}}`,
	} {
		f.Add(seed, 2)
	}
	f.Fuzz(func(t *testing.T, text string, voice int) {
		type result struct {
			out string
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, err := Render("prompt", text, fuzzData(voice))
			done <- result{out, err}
		}()
		limit := deadline()
		timer := time.NewTimer(limit)
		defer timer.Stop()
		select {
		case r := <-done:
			if len(r.out) > MaxRenderedSize {
				t.Fatalf("output of %d bytes", len(r.out))
			}
			if r.err != nil && strings.Contains(r.err.Error(), budgetFunc) {
				t.Fatalf("the error shows the budget's plumbing: %v", r.err)
			}
		case <-timer.C:
			t.Fatalf("rendering %q did not end within %v", text, limit)
		}
	})
}
