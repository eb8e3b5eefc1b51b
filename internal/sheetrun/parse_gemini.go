package sheetrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// geminiTokens are the counts of one model in `--output-format json` stats:
// prompt is what was sent (cached included), candidates what came back.
type geminiTokens struct {
	Prompt     int64 `json:"prompt"`
	Candidates int64 `json:"candidates"`
}

// geminiJSON is the object of `gemini --output-format json`.
type geminiJSON struct {
	Type      string  `json:"type"` // set on stream-json events, never on the json object
	SessionID string  `json:"session_id"`
	Response  *string `json:"response"`
	Stats     *struct {
		Models map[string]struct {
			Tokens *geminiTokens `json:"tokens"`
		} `json:"models"`
	} `json:"stats"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// geminiEvent is one line of `gemini --output-format stream-json`.
type geminiEvent struct {
	Type    string `json:"type"`
	Role    string `json:"role"`
	Content string `json:"content"`
	Status  string `json:"status"`
	Stats   *struct {
		InputTokens  *int64 `json:"input_tokens"`
		OutputTokens *int64 `json:"output_tokens"`
	} `json:"stats"`
}

// parseGemini accepts the json object (pretty-printed over many lines) and
// the stream-json events. Gemini reports no cost: only tokens.
func parseGemini(b []byte) (Usage, error) {
	b = bytes.TrimSpace(b)
	// A stray line may come before the object: start at the first line that opens one.
	if i := bytes.Index(b, []byte("\n{")); len(b) > 0 && b[0] != '{' && i >= 0 {
		b = b[i+1:]
	}
	var obj geminiJSON
	if json.Unmarshal(b, &obj) == nil && obj.Type == "" && (obj.Response != nil || obj.Stats != nil || obj.Error != nil) {
		u := Usage{SessionID: obj.SessionID}
		if obj.Response != nil {
			u.Text = *obj.Response
		}
		if obj.Error != nil {
			// The error channel of the structured result (never the answer).
			u.IsError, u.ErrorText = true, strings.TrimSpace(obj.Error.Type+": "+obj.Error.Message)
		}
		if obj.Stats != nil {
			for _, m := range obj.Stats.Models {
				if m.Tokens != nil {
					u.InputTokens += m.Tokens.Prompt
					u.OutputTokens += m.Tokens.Candidates
					u.HasTokens = true
				}
			}
		}
		return u, nil
	}
	var u Usage
	var text bytes.Buffer
	found := false
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var ev geminiEvent
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		switch {
		case ev.Type == "message" && ev.Role == "assistant":
			text.WriteString(ev.Content) // assistant messages come as deltas
			found = true
		case ev.Type == "result":
			found = true
			u.IsError = ev.Status == "error"
			if ev.Stats != nil && ev.Stats.InputTokens != nil && ev.Stats.OutputTokens != nil {
				u.InputTokens, u.OutputTokens, u.HasTokens = *ev.Stats.InputTokens, *ev.Stats.OutputTokens, true
			}
		}
	}
	if !found {
		return Usage{}, errors.New("no Gemini JSON output in the instrument's output")
	}
	u.Text = text.String()
	return u, nil
}
