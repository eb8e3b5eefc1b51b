package sheetrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
	Type    string   `json:"type"`
	Result  *string  `json:"result"`
	IsError bool     `json:"is_error"`
	Cost    *float64 `json:"total_cost_usd"`
	OldCost *float64 `json:"cost_usd"` // older Claude Code versions
	Usage   *struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
}

// parseClaude accepts `--output-format json` (one object, possibly pretty-printed, possibly
// after stray lines) and `stream-json` (one object per line, the result last).
func parseClaude(b []byte) (Usage, error) {
	b = bytes.TrimSpace(b)
	var r claudeResult
	if json.Unmarshal(b, &r) == nil && isClaudeResult(r) {
		return claudeUsage(r), nil
	}
	lines := bytes.Split(b, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || l[0] != '{' {
			continue
		}
		r = claudeResult{}
		if json.Unmarshal(l, &r) == nil && isClaudeResult(r) {
			return claudeUsage(r), nil
		}
	}
	return Usage{}, errors.New("no Claude result object in the instrument's output")
}

func isClaudeResult(r claudeResult) bool {
	return r.Type == "result" || (r.Type == "" && (r.Result != nil || r.Usage != nil))
}

func claudeUsage(r claudeResult) Usage {
	u := Usage{IsError: r.IsError}
	if r.Result != nil {
		u.Text = *r.Result
	}
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
	Usage *codexTokens `json:"usage"`
	Msg   *struct {
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
	switch {
	case haveTurns:
		u.InputTokens, u.OutputTokens, u.HasTokens = turns.InputTokens, turns.OutputTokens, true
	case haveTotal:
		u.InputTokens, u.OutputTokens, u.HasTokens = total.InputTokens, total.OutputTokens, true
	}
	return u, nil
}
