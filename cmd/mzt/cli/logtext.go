package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Structured instruments (Claude Code stream-json, codex exec --json, gemini
// stream-json) write one JSON event per line. `mzt logs` shows those as what
// the agent said and did, one line each; `--raw` shows the bytes. Lines that
// are not such events pass through as they are.

// agentEvent holds the fields of the three CLIs' events that readable logs use.
type agentEvent struct {
	Type    string `json:"type"`
	Subtype string `json:"subtype"`
	Model   string `json:"model"`
	// claude
	Message *struct {
		Content []struct {
			Type  string          `json:"type"`
			Text  string          `json:"text"`
			Name  string          `json:"name"`
			Input json.RawMessage `json:"input"`
		} `json:"content"`
	} `json:"message"`
	Result  *string  `json:"result"`
	IsError bool     `json:"is_error"`
	Cost    *float64 `json:"total_cost_usd"`
	// codex
	Item *struct {
		Type    string `json:"type"`
		Text    string `json:"text"`
		Command string `json:"command"`
		Status  string `json:"status"`
	} `json:"item"`
	Usage *struct {
		InputTokens  int64 `json:"input_tokens"`
		OutputTokens int64 `json:"output_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
	// gemini
	Role     string          `json:"role"`
	Content  string          `json:"content"`
	ToolName string          `json:"tool_name"`
	Params   json.RawMessage `json:"parameters"`
	Status   string          `json:"status"`
}

// maxReadable bounds one rendered line: a tool call's input can be a whole file.
const maxReadable = 300

// readableLines turns one line of an agent's output into the lines to show.
// ok is false when the line is not a known agent event: show it as it is.
func readableLines(line []byte) (out []string, ok bool) {
	t := bytes.TrimSpace(line)
	if len(t) < 2 || t[0] != '{' {
		return nil, false
	}
	var ev agentEvent
	if json.Unmarshal(t, &ev) != nil || ev.Type == "" {
		return nil, false
	}
	add := func(format string, args ...any) {
		out = append(out, oneLine(fmt.Sprintf(format, args...), maxReadable))
	}
	switch ev.Type {
	// Claude Code stream-json
	case "system":
		if ev.Subtype == "init" {
			add("· session started (%s)", orDash(ev.Model))
		}
	case "assistant":
		if ev.Message == nil {
			return nil, true
		}
		for _, c := range ev.Message.Content {
			switch c.Type {
			case "text":
				if strings.TrimSpace(c.Text) != "" {
					add("%s", c.Text)
				}
			case "tool_use":
				add("→ %s %s", c.Name, compactJSON(c.Input))
			}
		}
	case "user":
		// Tool results: their output is in the workspace and in --raw.
	case "result":
		switch {
		case ev.Result != nil || ev.Cost != nil: // claude
			status := "done"
			if ev.IsError {
				status = "error"
			}
			cost := ""
			if ev.Cost != nil {
				cost = fmt.Sprintf(" · $%.4f", *ev.Cost)
			}
			result := ""
			if ev.Result != nil {
				result = ": " + *ev.Result
			}
			add("· %s%s%s", status, cost, result)
		default: // gemini
			add("· %s", orDash(ev.Status))
		}
	// codex exec --json
	case "thread.started":
		add("· session started")
	case "item.completed", "item.started":
		if ev.Item == nil {
			return nil, true
		}
		switch ev.Item.Type {
		case "agent_message":
			add("%s", ev.Item.Text)
		case "reasoning":
			add("(thinking) %s", ev.Item.Text)
		case "command_execution":
			if ev.Type == "item.started" {
				add("→ %s", ev.Item.Command)
			} else {
				add("→ %s (%s)", ev.Item.Command, orDash(ev.Item.Status))
			}
		case "error":
			add("! %s", ev.Item.Text)
		}
	case "turn.completed":
		if ev.Usage != nil {
			add("· turn done · tokens %d in / %d out", ev.Usage.InputTokens, ev.Usage.OutputTokens)
		}
	case "turn.failed", "error":
		msg := ""
		if ev.Error != nil {
			msg = ev.Error.Message
		}
		add("! %s", msg)
	// gemini stream-json
	case "init":
		add("· session started (%s)", orDash(ev.Model))
	case "message":
		if ev.Role == "assistant" {
			add("%s", ev.Content)
		}
	case "tool_use":
		add("→ %s %s", ev.ToolName, compactJSON(ev.Params))
	case "turn.started", "item.updated", "stream_event", "rate_limit_event", "tool_result", "tool_progress":
	default:
		return nil, false
	}
	return out, true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// logPrinter writes log chunks line by line: structured events made
// readable (unless raw), each line prefixed where several sheets interleave.
// A line split across chunks waits for its end.
type logPrinter struct {
	w       io.Writer
	raw     bool
	pending map[int64][]byte // a sheet's unfinished line
	prefix  map[int64]string
	styles  textStyles
}

func newLogPrinter(w io.Writer, raw bool) *logPrinter {
	return &logPrinter{w: w, raw: raw, pending: map[int64][]byte{}, prefix: map[int64]string{}, styles: newTextStyles(w)}
}

// write takes a chunk of sheet's output; prefix is "" or "[stage:voice] ".
func (p *logPrinter) write(sheet int64, prefix string, data []byte) error {
	if p.raw && prefix == "" {
		_, err := p.w.Write(data)
		return err
	}
	p.prefix[sheet] = p.styles.prefix(sheet, prefix)
	buf := append(p.pending[sheet], data...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		if err := p.line(sheet, buf[:i]); err != nil {
			return err
		}
		buf = buf[i+1:]
	}
	p.pending[sheet] = append([]byte(nil), buf...)
	return nil
}

func (p *logPrinter) line(sheet int64, line []byte) error {
	prefix := p.prefix[sheet]
	if !p.raw {
		if out, ok := readableLines(line); ok {
			for _, l := range out {
				if _, err := fmt.Fprintf(p.w, "%s%s\n", prefix, l); err != nil {
					return err
				}
			}
			return nil
		}
	}
	_, err := fmt.Fprintf(p.w, "%s%s\n", prefix, line)
	return err
}

// flush ends a sheet's unfinished line (before a header, or at the end).
func (p *logPrinter) flush(sheet int64) error {
	if len(p.pending[sheet]) == 0 {
		return nil
	}
	line := p.pending[sheet]
	p.pending[sheet] = nil
	if p.prefix[sheet] == "" {
		// One sheet's output, not an agent's event: its bytes as captured,
		// an unfinished last line included (no newline is made up).
		if _, ok := readableLines(line); p.raw || !ok {
			_, err := p.w.Write(line)
			return err
		}
	}
	return p.line(sheet, line)
}

func (p *logPrinter) flushAll() error {
	for s := range p.pending {
		if err := p.flush(s); err != nil {
			return err
		}
	}
	return nil
}
