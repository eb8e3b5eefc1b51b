package sheetrun

import (
	"path/filepath"
	"testing"
)

func TestParseGemini(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, out string
		want      Usage
	}{
		{"json, two models", `{
  "session_id": "s1",
  "response": "Fixed the build.",
  "stats": {
    "models": {
      "gemini-pro": {"api": {"totalRequests": 2}, "tokens": {"input": 900, "prompt": 1000, "candidates": 120, "total": 1120, "cached": 100}},
      "gemini-flash": {"tokens": {"prompt": 50, "candidates": 5}}
    }
  }
}`, Usage{Text: "Fixed the build.", InputTokens: 1050, OutputTokens: 125, HasTokens: true, SessionID: "s1"}},
		// gemini may print a line of its own before the object.
		{"json after a stray line", "Loaded cached credentials.\n" + `{"response": "ok"}`, Usage{Text: "ok"}},
		{"json error", `{"response": null, "error": {"type": "FatalAuthenticationError", "message": "no key"}}`,
			Usage{IsError: true, ErrorText: "FatalAuthenticationError: no key"}},
		{"stream-json", `{"type":"init","session_id":"s","model":"m"}
{"type":"message","role":"user","content":"Fix it"}
{"type":"message","role":"assistant","content":"Fixed ","delta":true}
{"type":"message","role":"assistant","content":"it.","delta":true}
{"type":"result","status":"success","stats":{"total_tokens":30,"input_tokens":20,"output_tokens":10}}`,
			Usage{Text: "Fixed it.", InputTokens: 20, OutputTokens: 10, HasTokens: true}},
		{"stream-json error", `{"type":"result","status":"error","error":{"type":"unknown","message":"quota"},"stats":{"input_tokens":0,"output_tokens":0}}`,
			Usage{IsError: true, HasTokens: true}},
	} {
		path := filepath.Join(dir, "out")
		writeFile(t, path, tc.out)
		got, err := ParseOutput(FormatGeminiJSON, path)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}
