package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// structured prints usage the way the real CLIs' machine-readable modes do:
// Claude Code stream-json, codex exec --json, gemini --output-format json.
func (a *agent) structured(name string, args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("want IN OUT%s, got %q", map[bool]string{true: " COST"}[name == "@usage-stream"], args)
	}
	in, err1 := strconv.ParseInt(args[0], 10, 64)
	out, err2 := strconv.ParseInt(args[1], 10, 64)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("want IN OUT, got %q", args)
	}
	text := strings.Join(a.stdout, " ")
	if text == "" {
		text = "ok"
	}
	emit := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Println(string(b))
	}
	type m = map[string]any
	switch name {
	case "@usage-stream":
		if len(args) < 3 {
			return fmt.Errorf("want IN OUT COST, got %q", args)
		}
		cost, err := strconv.ParseFloat(args[2], 64)
		if err != nil {
			return fmt.Errorf("want IN OUT COST, got %q", args)
		}
		emit(m{"type": "system", "subtype": "init", "session_id": "fake-" + a.hash, "model": "claude-fake"})
		emit(m{"type": "assistant", "message": m{"model": "claude-fake", "content": []m{
			{"type": "text", "text": "Working on it: " + text}}}})
		emit(m{"type": "assistant", "message": m{"model": "claude-fake", "content": []m{
			{"type": "tool_use", "id": "tu_1", "name": "Bash", "input": m{"command": "ls -la"}}}}})
		emit(m{"type": "user", "message": m{"content": []m{{"type": "tool_result", "tool_use_id": "tu_1", "content": "total 0"}}}})
		emit(m{"type": "result", "subtype": "success", "is_error": false, "result": text,
			"session_id": "fake-" + a.hash, "total_cost_usd": cost,
			"usage": m{"input_tokens": in, "output_tokens": out}})
	case "@codex-usage":
		emit(m{"type": "thread.started", "thread_id": "fake-" + a.hash})
		emit(m{"type": "turn.started"})
		emit(m{"type": "item.completed", "item": m{"id": "item_0", "type": "command_execution",
			"command": "bash -lc ls", "aggregated_output": "", "exit_code": 0, "status": "completed"}})
		emit(m{"type": "item.completed", "item": m{"id": "item_1", "type": "agent_message", "text": text}})
		emit(m{"type": "turn.completed", "usage": m{"input_tokens": in, "cached_input_tokens": 0, "output_tokens": out}})
	case "@gemini-usage":
		b, _ := json.MarshalIndent(m{"session_id": "fake-" + a.hash, "response": text, "stats": m{
			"models": m{"gemini-fake": m{"tokens": m{"input": in, "prompt": in, "candidates": out, "total": in + out}}}}}, "", "  ")
		fmt.Println(string(b))
	}
	return nil
}
