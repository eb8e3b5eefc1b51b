package sheetrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Output formats an instrument's stdout can be parsed in.
const (
	FormatText       = "text"
	FormatClaudeJSON = "claude-json"
	FormatCodexJSONL = "codex-jsonl"
	FormatGeminiJSON = "gemini-json"
)

// maxParse is how much of the end of stdout ParseOutput reads: the result object comes last, and
// a runaway output must not be loaded whole.
const maxParse = 1 << 20

// Usage is what an instrument reported about its run.
type Usage struct {
	Text                      string // the agent's final answer
	InputTokens, OutputTokens int64
	CostUSD                   float64
	HasCost                   bool // the instrument reported a cost (a missing one is unknown, not zero)
	HasTokens                 bool // the instrument reported token counts
	IsError                   bool // the instrument itself flagged the run as failed (claude-json is_error)
	// ErrorText is the structured result's error channel: the text of a
	// failed API call, the errors list of an error_* subtype, the error
	// categories and reset times of stream events, Codex's error events.
	// Rate-limit and auth patterns look here and at stderr, never at Text.
	ErrorText string
	SessionID string // Claude's session, for a retry that continues it
}

// ParseOutput reads the instrument's stdout file in the given format. "text" (or "") parses
// nothing. Only the last MiB is read.
func ParseOutput(format, stdoutPath string) (Usage, error) {
	switch format {
	case "", FormatText:
		return Usage{}, nil
	case FormatClaudeJSON, FormatCodexJSONL, FormatGeminiJSON:
	default:
		return Usage{}, fmt.Errorf("unknown output format %q", format)
	}
	f, err := os.Open(stdoutPath)
	if err != nil {
		return Usage{}, fmt.Errorf("read instrument output: %w", err)
	}
	defer f.Close()
	b, err := tailBytes(f, maxParse)
	if err != nil {
		return Usage{}, fmt.Errorf("read instrument output: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Size() > maxParse {
		// The first line is probably cut in the middle: drop it.
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	switch format {
	case FormatClaudeJSON:
		return parseClaude(b)
	case FormatGeminiJSON:
		return parseGemini(b)
	}
	return parseCodex(b)
}

type claudeResult struct {
	Type      string   `json:"type"`
	Subtype   string   `json:"subtype"`
	Result    *string  `json:"result"`
	IsError   bool     `json:"is_error"`
	Errors    []string `json:"errors"`
	APIStatus int      `json:"api_error_status"`
	SessionID string   `json:"session_id"`
	Cost      *float64 `json:"total_cost_usd"`
	OldCost   *float64 `json:"cost_usd"` // older Claude Code versions
	Usage     *struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

// claudeEvent is a stream-json line that is not the result but says
// something about errors: an assistant message with an error category, or a
// rejected rate limit with its reset time.
type claudeEvent struct {
	Type          string `json:"type"`
	Error         string `json:"error"`
	RateLimitInfo *struct {
		Status   string `json:"status"`
		ResetsAt int64  `json:"resetsAt"`
	} `json:"rate_limit_info"`
}

// parseClaude accepts `--output-format json` (one object, possibly pretty-printed, possibly
// after stray lines) and `stream-json` (one object per line, the result last).
func parseClaude(b []byte) (Usage, error) {
	b = bytes.TrimSpace(b)
	var r claudeResult
	if json.Unmarshal(b, &r) == nil && isClaudeResult(r) {
		return claudeUsage(r, nil), nil
	}
	// With verbose settings `--output-format json` prints an array of every
	// message, the result last.
	var all []claudeResult
	if len(b) > 0 && b[0] == '[' && json.Unmarshal(b, &all) == nil {
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].Type == "result" {
				return claudeUsage(all[i], nil), nil
			}
		}
	}
	lines := bytes.Split(b, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || l[0] != '{' {
			continue
		}
		r = claudeResult{}
		if json.Unmarshal(l, &r) == nil && isClaudeResult(r) {
			return claudeUsage(r, streamErrors(lines[:i])), nil
		}
	}
	return Usage{}, errors.New("no Claude result object in the instrument's output")
}

// streamErrors collects the error signals of the stream events before the
// result: assistant error categories ("rate_limit", "authentication_failed")
// and rejected rate limits with their reset time.
func streamErrors(lines [][]byte) []string {
	var out []string
	for _, l := range lines {
		l = bytes.TrimSpace(l)
		if len(l) == 0 || l[0] != '{' || !bytes.Contains(l, []byte(`"error`)) && !bytes.Contains(l, []byte(`"rate_limit_info"`)) {
			continue
		}
		var ev claudeEvent
		if json.Unmarshal(l, &ev) != nil {
			continue
		}
		switch {
		case ev.Type == "assistant" && ev.Error != "":
			out = append(out, "error: "+ev.Error)
		case ev.Type == "rate_limit_event" && ev.RateLimitInfo != nil && ev.RateLimitInfo.Status == "rejected":
			msg := "rate_limit rejected"
			if ev.RateLimitInfo.ResetsAt > 0 {
				msg += fmt.Sprintf(" resets_at %d", ev.RateLimitInfo.ResetsAt)
			}
			out = append(out, msg)
		}
	}
	return out
}

func isClaudeResult(r claudeResult) bool {
	return r.Type == "result" || (r.Type == "" && (r.Result != nil || r.Usage != nil))
}

func claudeUsage(r claudeResult, stream []string) Usage {
	u := Usage{IsError: r.IsError, SessionID: r.SessionID}
	if r.Result != nil {
		u.Text = *r.Result
	}
	// The error channel: a failed API call puts its message in result (with
	// subtype success); an error_* subtype (max turns, budget) has an errors
	// list, and its result, if any, is the agent's answer, not an error.
	errs := stream
	if r.APIStatus != 0 {
		errs = append(errs, fmt.Sprintf("api_error_status %d", r.APIStatus))
	}
	if r.IsError && (r.Subtype == "" || r.Subtype == "success") {
		errs = append(errs, u.Text)
	}
	if r.Subtype != "" && r.Subtype != "success" {
		errs = append(errs, r.Subtype)
	}
	errs = append(errs, r.Errors...)
	u.ErrorText = strings.Join(errs, "\n")
	if r.Usage != nil {
		u.InputTokens, u.OutputTokens, u.HasTokens = r.Usage.InputTokens, r.Usage.OutputTokens, true
	}
	switch {
	case r.Cost != nil:
		u.CostUSD, u.HasCost = *r.Cost, true
	case r.OldCost != nil:
		u.CostUSD, u.HasCost = *r.OldCost, true
	}
	return u
}

type codexTokens struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// codexEvent covers both `codex exec --json` generations: the current one ({"type":
// "item.completed","item":{...}} and {"type":"turn.completed","usage":{...}}) and the older
// one ({"msg":{"type":"agent_message"|"token_count",...}}). Other events are ignored.
type codexEvent struct {
	Type string `json:"type"`
	Item *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"item"`
	Usage   *codexTokens `json:"usage"`
	Message string       `json:"message"` // of an error event
	Error   *struct {
		Message string `json:"message"`
	} `json:"error"` // of turn.failed
	Msg *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		codexTokens
		Info *struct {
			Total *codexTokens `json:"total_token_usage"`
		} `json:"info"`
	} `json:"msg"`
}

func parseCodex(b []byte) (Usage, error) {
	var u Usage
	var turns, total codexTokens // turn.completed reports per turn; token_count a running total
	haveTurns, haveTotal, parsed := false, false, false
	var errs []string
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var ev codexEvent
		if json.Unmarshal(line, &ev) != nil {
			continue // tolerate noise and truncated lines
		}
		parsed = true
		switch {
		case ev.Type == "item.completed" && ev.Item != nil && ev.Item.Type == "agent_message":
			u.Text = ev.Item.Text
		case ev.Type == "turn.completed" && ev.Usage != nil:
			turns.InputTokens += ev.Usage.InputTokens
			turns.OutputTokens += ev.Usage.OutputTokens
			haveTurns = true
		case ev.Type == "error" && ev.Message != "":
			errs = append(errs, ev.Message)
		case ev.Type == "turn.failed" && ev.Error != nil:
			errs = append(errs, ev.Error.Message)
		case ev.Msg != nil && ev.Msg.Type == "error":
			errs = append(errs, ev.Msg.Message)
		case ev.Msg != nil && ev.Msg.Type == "agent_message":
			u.Text = ev.Msg.Message
		case ev.Msg != nil && ev.Msg.Type == "token_count":
			if ev.Msg.Info != nil && ev.Msg.Info.Total != nil {
				total = *ev.Msg.Info.Total
			} else {
				total = ev.Msg.codexTokens
			}
			haveTotal = true
		}
	}
	if !parsed {
		return Usage{}, errors.New("no Codex JSON events in the instrument's output")
	}
	// Keep the last few: a long run may report many transient reconnects.
	if len(errs) > 8 {
		errs = errs[len(errs)-8:]
	}
	u.ErrorText = strings.Join(errs, "\n")
	switch {
	case haveTurns:
		u.InputTokens, u.OutputTokens, u.HasTokens = turns.InputTokens, turns.OutputTokens, true
	case haveTotal:
		u.InputTokens, u.OutputTokens, u.HasTokens = total.InputTokens, total.OutputTokens, true
	}
	return u, nil
}
