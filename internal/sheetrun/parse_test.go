package sheetrun

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const samples = "../../testdata/fakeagent/samples/"

func TestParseOutputSamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, file string
		want         Usage
	}{
		{FormatClaudeJSON, "claude.json", Usage{Text: "Wrote draft-1.md (412 words).", InputTokens: 1532, OutputTokens: 687, CostUSD: 0.04213, HasCost: true, HasTokens: true, SessionID: "5c1f2f0e-7a7e-4c1b-9d7e-0b6f0f3e2a11"}},
		{FormatClaudeJSON, "claude-stream.jsonl", Usage{Text: "Reached max turns", InputTokens: 100, OutputTokens: 20, CostUSD: 0.5, HasCost: true, HasTokens: true, IsError: true, ErrorText: "error_max_turns", SessionID: "a1"}},
		// An error_* subtype's result is the agent's answer: it is no error text, its errors list is.
		{FormatClaudeJSON, "claude-max-turns-ratelimiter.jsonl", Usage{Text: "I added a token-bucket rate limiter; the rate limit is 429-safe now.", InputTokens: 300, OutputTokens: 90, CostUSD: 0.9, HasCost: true, HasTokens: true, IsError: true,
			ErrorText: "error_max_turns\nReached maximum number of turns (3)", SessionID: "s-max"}},
		// A failed API call: the result is the error; the stream adds the category and reset time.
		{FormatClaudeJSON, "claude-usage-limit.jsonl", Usage{Text: "You've hit your session limit · resets 6:30pm (UTC)", HasCost: true, IsError: true,
			ErrorText: "rate_limit rejected resets_at 1790000000\nerror: rate_limit\napi_error_status 429\nYou've hit your session limit · resets 6:30pm (UTC)", SessionID: "9d0c"}},
		// Codex: the answer talks about rate limits; only the error events are the error channel.
		{FormatCodexJSONL, "codex-usage-limit.jsonl", Usage{Text: "The API has a rate limit of 10 requests per second.",
			ErrorText: "You've hit your usage limit. Try again in 2 hours.\nYou've hit your usage limit. Try again in 2 hours."}},
		// Two turns: usage adds up, the last agent message is the answer.
		{FormatCodexJSONL, "codex.jsonl", Usage{Text: "Merged the drafts into merged.md.", InputTokens: 25763, OutputTokens: 200, HasTokens: true}},
		// Older generation: token_count is a running total, the last one counts.
		{FormatCodexJSONL, "codex-legacy.jsonl", Usage{Text: "Done: wrote report.md", InputTokens: 900, OutputTokens: 75, HasTokens: true}},
		{FormatText, "claude.json", Usage{}},
		// Verbose settings turn json into an array of every message.
		{FormatClaudeJSON, "claude-array.json", Usage{Text: "hi", InputTokens: 3, OutputTokens: 4, CostUSD: 0.2, HasCost: true, HasTokens: true, SessionID: "arr"}},
		// Gemini: pretty-printed after a stray stderr-ish line; usage adds up over models.
		{FormatGeminiJSON, "gemini.json", Usage{Text: "Wrote notes.md about the API's rate limit.", InputTokens: 1050, OutputTokens: 125, HasTokens: true, SessionID: "g-1"}},
	} {
		got, err := ParseOutput(tc.format, samples+tc.file)
		if err != nil || got != tc.want {
			t.Errorf("%s %s: got %+v, %v; want %+v", tc.format, tc.file, got, err, tc.want)
		}
	}
}

func TestParseOutputErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.txt")
	writeFile(t, junk, "no json here\n{not json either\n")
	for _, tc := range []struct{ format, path, why string }{
		{FormatClaudeJSON, junk, "no Claude result"},
		{FormatCodexJSONL, junk, "no Codex JSON"},
		{FormatClaudeJSON, filepath.Join(dir, "missing"), "read instrument output"},
		{"yaml", junk, "unknown output format"},
	} {
		if _, err := ParseOutput(tc.format, tc.path); err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s %s: err %v, want %q", tc.format, filepath.Base(tc.path), err, tc.why)
		}
	}
}

func TestParseOutputReadsOnlyTheEnd(t *testing.T) {
	t.Parallel()
	// 3 MiB of noise, then the result line: found, although only the last MiB is read.
	path := filepath.Join(t.TempDir(), "stdout.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("z", 1023) + "\n"
	for range 3 << 10 {
		f.WriteString(line)
	}
	f.WriteString(`{"type":"result","result":"late","usage":{"input_tokens":1,"output_tokens":2},"total_cost_usd":0.01}` + "\n")
	f.Close()
	u, err := ParseOutput(FormatClaudeJSON, path)
	if err != nil || u.Text != "late" || u.OutputTokens != 2 {
		t.Errorf("got %+v, %v", u, err)
	}
}

// The fake agent end to end: its usage report parses, its rate limit and auth failures classify.
func TestFakeAgentUsageAndFailures(t *testing.T) {
	t.Parallel()
	s := agentSpec(t, "@stdout drafted\n@usage 1200 345 0.0125")
	r := Run(context.Background(), s)
	if !r.Success {
		t.Fatalf("result %+v", r)
	}
	u, err := ParseOutput(FormatClaudeJSON, s.StdoutPath)
	want := Usage{Text: "drafted", InputTokens: 1200, OutputTokens: 345, CostUSD: 0.0125, HasCost: true, HasTokens: true}
	if err != nil || u != want {
		t.Errorf("usage %+v, %v", u, err)
	}

	rate := []*regexp.Regexp{regexp.MustCompile(`(?i)rate.?limit`)}
	auth := []*regexp.Regexp{regexp.MustCompile(`(?i)invalid api key`)}
	s = agentSpec(t, "preamble for attempt 1\n@ratelimit 1\n@write done.txt yes")
	r = Run(context.Background(), s)
	class, wait := Classify("", r.StderrTail, rate, auth, time.Now())
	if r.Success || class != ClassRateLimited || wait != 2*time.Second {
		t.Errorf("first run: %+v, %v %v", r, class, wait)
	}
	// A retry's preamble differs; the counter follows the directives only.
	s.Stdin = "preamble for attempt 2\n@ratelimit 1\n@write done.txt yes"
	if r = Run(context.Background(), s); !r.Success {
		t.Errorf("second run: %+v", r)
	}

	s = agentSpec(t, "@fail 2")
	for i, want := range []bool{false, false, true} {
		if r = Run(context.Background(), s); r.Success != want {
			t.Errorf("@fail run %d: %+v", i+1, r)
		}
	}

	s = agentSpec(t, "@auth")
	r = Run(context.Background(), s)
	if class, _ := Classify("", r.StderrTail, rate, auth, time.Now()); class != ClassAuth || r.ExitCode != 1 {
		t.Errorf("auth: %+v, %v", r, class)
	}
}
