package score

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/config/strict"
)

// A value of the wrong type no longer hides the problems the checks after
// decoding find: one pass lists them all.
func TestParseListsEveryKindOfProblemAtOnce(t *testing.T) {
	src := `workspace = "ws"
[defaults]
instrument = "shell"
atempts = 2
timeout = 30
backoff = { base = 5 }

[[stage]]
id = "one"
prompt = "echo {{.Nope}}"
voices = "three"

[[stage]]
id = "two"
depends_on = ["onee"]
prompt_file = "missing.tmpl"
[[stage.validate]]
type = "file_exist"
path = "x"
`
	path := filepath.Join(t.TempDir(), "many.toml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, map[string]bool{"shell": true})
	var ps strict.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load = %v, want problems", err)
	}
	want := []struct {
		line int
		msg  string
	}{
		{4, `unknown key "atempts" (did you mean "attempts"?)`},
		{5, `"timeout" must be a duration string`},
		{6, `"base" must be a duration string`},
		{10, "bad template in prompt: .Nope is not a template field"},
		{11, `"voices" must be an integer, not a string`},
		{15, `unknown stage "onee" (did you mean "one"?)`},
		{16, "missing.tmpl not found"},
		{18, `unknown validation type "file_exist" (did you mean "file_exists"?)`},
	}
	if len(ps) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		if ps[i].Line != w.line || !strings.Contains(ps[i].Msg, w.msg) {
			t.Errorf("problem %d = %s, want line %d: %s", i, ps[i], w.line, w.msg)
		}
	}
}

func TestDeletePath(t *testing.T) {
	doc := map[string]any{
		"defaults": map[string]any{"timeout": int64(3), "backoff": map[string]any{"base": int64(5)}},
		"stage":    []any{map[string]any{"voices": "x"}, map[string]any{"depends_on": []any{int64(1)}}},
	}
	for _, path := range []string{"defaults.timeout", "defaults.backoff.base", "stage[0].voices", "stage[1].depends_on[0]"} {
		if !deletePath(doc, path) {
			t.Errorf("deletePath(%s) = false", path)
		}
	}
	if deletePath(doc, "stage[5].voices") || deletePath(doc, "nope.x") || deletePath(doc, "defaults.timeout") {
		t.Error("deletePath found a path that is not there")
	}
	st := doc["stage"].([]any)
	if _, ok := st[0].(map[string]any)["voices"]; ok {
		t.Error("stage[0].voices still there")
	}
	if _, ok := st[1].(map[string]any)["depends_on"]; ok {
		t.Error("stage[1].depends_on still there")
	}
}
