package instrument

import "testing"

// {prompt} only in model_args would vanish when no model is set: refused
// (found by fuzzing).
func TestPromptOnlyInModelArgsIsRefused(t *testing.T) {
	_, err := Parse("/tmp/x.toml", []byte("executable = 'x'\nprompt_via = 'arg'\nmodel_args = ['{prompt}']\n"))
	if err == nil {
		t.Fatal("a profile whose prompt is only in model_args was accepted")
	}
}
