package cli

import (
	"strings"
	"testing"
)

func TestReadableLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     []string // nil with ok false: shown as it is
		ok       bool
	}{
		{"plain text", "hello world", nil, false},
		{"json that is no agent event", `{"a":1}`, nil, false},
		{"unknown event type", `{"type":"weird"}`, nil, false},
		{"claude init", `{"type":"system","subtype":"init","model":"claude-x"}`, []string{"· session started (claude-x)"}, true},
		{"claude text and tool call", `{"type":"assistant","message":{"content":[{"type":"text","text":"Reading the\nfile"},{"type":"tool_use","name":"Read","input":{"file_path": "a.go"}}]}}`,
			[]string{"Reading the file", `→ Read {"file_path":"a.go"}`}, true},
		{"claude tool result is quiet", `{"type":"user","message":{"content":[{"type":"tool_result","content":"..."}]}}`, nil, true},
		{"claude result", `{"type":"result","is_error":false,"result":"Done.","total_cost_usd":0.25}`, []string{"· done · $0.2500: Done."}, true},
		{"claude error result", `{"type":"result","is_error":true,"result":"limit"}`, []string{"· error: limit"}, true},
		{"codex message", `{"type":"item.completed","item":{"type":"agent_message","text":"Merged."}}`, []string{"Merged."}, true},
		{"codex command", `{"type":"item.completed","item":{"type":"command_execution","command":"ls","status":"completed"}}`, []string{"→ ls (completed)"}, true},
		{"codex usage", `{"type":"turn.completed","usage":{"input_tokens":3,"output_tokens":4}}`, []string{"· turn done · tokens 3 in / 4 out"}, true},
		{"codex failure", `{"type":"turn.failed","error":{"message":"usage limit"}}`, []string{"! usage limit"}, true},
		{"gemini delta", `{"type":"message","role":"assistant","content":"Fixed","delta":true}`, []string{"Fixed"}, true},
		{"gemini user echo is quiet", `{"type":"message","role":"user","content":"prompt"}`, nil, true},
		{"gemini tool", `{"type":"tool_use","tool_name":"write_file","parameters":{"path":"x"}}`, []string{`→ write_file {"path":"x"}`}, true},
		{"long lines are cut", `{"type":"item.completed","item":{"type":"agent_message","text":"` + strings.Repeat("x", 1000) + `"}}`,
			[]string{strings.Repeat("x", maxReadable-1) + "…"}, true},
	} {
		got, ok := readableLines([]byte(tc.in))
		if ok != tc.ok || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Lines split across chunks are put together; sheets interleave with their
// prefixes; raw output of one sheet is the bytes as they came.
func TestLogPrinter(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	p := newLogPrinter(&b, false)
	p.write(1, "[draft:1] ", []byte(`{"type":"item.completed","item":{"type":"agent_mes`))
	p.write(2, "[draft:2] ", []byte("plain line\npart"))
	p.write(1, "[draft:1] ", []byte(`sage","text":"hi"}}`+"\n"))
	p.flushAll()
	want := "[draft:2] plain line\n[draft:1] hi\n[draft:2] part\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	raw := newLogPrinter(&b, true)
	raw.write(1, "", []byte(`{"type":"result"}`+"\nno newline"))
	raw.flushAll()
	if b.String() != `{"type":"result"}`+"\nno newline" {
		t.Errorf("raw: got %q", b.String())
	}
}
