package score

import (
	"errors"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/config/strict"
)

func TestSuggestInstrument(t *testing.T) {
	t.Parallel()
	known := []string{"claude-code", "codex", "gemini", "shell"}
	for _, tc := range []struct{ name, want string }{
		{"claude", "claude-code"},     // the start of a known name
		{"claud-code", "claude-code"}, // a close spelling
		{"gemini-cli", "gemini"},      // a known name is its start
		{"c", ""},                     // the start of two names: no guess
		{"zzz", ""},
	} {
		if got := suggestInstrument(tc.name, known); got != tc.want {
			t.Errorf("suggestInstrument(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUnrunnableInstrumentNamesTheStage(t *testing.T) {
	t.Parallel()
	src := "[defaults]\ninstrument = \"claude-code\"\n[[stage]]\nid = \"a\"\nprompt = \"x\"\n" +
		"[[stage]]\nid = \"b\"\ninstrument = \"shell\"\nprompt = \"x\"\n" +
		"[[stage]]\nid = \"c\"\ninstrument = \"codex\"\nprompt = \"x\"\n"
	missing := map[string]bool{"claude-code": true, "codex": true}
	_, err := ParseWith("s.toml", []byte(src), ParseOptions{Instruments: known,
		Unrunnable: func(name string) string {
			if missing[name] {
				return "runs \"" + name + "\", which is not on PATH"
			}
			return ""
		}})
	var ps strict.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("want two problems, got %v", err)
	}
	for i, want := range []struct {
		line int
		msg  string
	}{{2, `stage a: instrument "claude-code"`}, {12, `stage c: instrument "codex"`}} {
		if ps[i].Line != want.line || !strings.HasPrefix(ps[i].Msg, want.msg) {
			t.Errorf("problem %d = line %d %q, want line %d %q", i, ps[i].Line, ps[i].Msg, want.line, want.msg)
		}
	}
	// Without the check the same score is fine.
	if _, err := ParseWith("s.toml", []byte(src), ParseOptions{Instruments: known}); err != nil {
		t.Fatal(err)
	}
}
