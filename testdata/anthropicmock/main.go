// Command anthropicmock is a small stand-in for the Anthropic Messages API,
// for driving the real `claude` CLI in tests (ANTHROPIC_BASE_URL).
//
// It answers POST /v1/messages by the request's x-api-key:
//
//	ok       streams (SSE) a Write tool_use for the path after "MOCK_WRITE " in
//	         the request, then, once the tool result comes back, a text answer
//	limited  429 rate_limit_error with the unified rate-limit headers (a 5 h limit)
//	busy     529 overloaded_error
//	other    401 authentication_error
//
// It listens on 127.0.0.1 (-addr), writes its port to -port-file, counts
// requests per key in -log (one line each) and exits when its parent dies
// or after -life.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

var writeRE = regexp.MustCompile(`MOCK_WRITE (/[^\s"\\]+)`)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	portFile := flag.String("port-file", "", "write the port here")
	logFile := flag.String("log", "", "append one line per request here")
	life := flag.Duration("life", 5*time.Minute, "exit after this long")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	record := func(line string) {
		if *logFile == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		key := r.Header.Get("x-api-key")
		record(r.Method + " " + r.URL.Path + " " + key)
		if !strings.HasPrefix(r.URL.Path, "/v1/messages") || strings.Contains(r.URL.Path, "count_tokens") {
			if strings.Contains(r.URL.Path, "count_tokens") {
				writeJSON(w, 200, map[string]any{"input_tokens": 10})
				return
			}
			writeJSON(w, 404, apiError("not_found_error", "no such endpoint"))
			return
		}
		switch key {
		case "ok":
			answer(w, body)
		case "limited":
			reset := time.Now().Add(5 * time.Hour).Unix()
			h := w.Header()
			h.Set("retry-after", "18000")
			h.Set("anthropic-ratelimit-unified-status", "rejected")
			h.Set("anthropic-ratelimit-unified-reset", strconv.FormatInt(reset, 10))
			h.Set("anthropic-ratelimit-unified-5h-status", "rejected")
			h.Set("anthropic-ratelimit-unified-5h-reset", strconv.FormatInt(reset, 10))
			h.Set("anthropic-ratelimit-unified-5h-utilization", "1.0")
			h.Set("anthropic-ratelimit-unified-representative-claim", "five_hour")
			writeJSON(w, 429, apiError("rate_limit_error", "This request would exceed your account's rate limit. Please try again later."))
		case "busy":
			writeJSON(w, 529, apiError("overloaded_error", "Overloaded"))
		default:
			writeJSON(w, 401, apiError("authentication_error", "invalid x-api-key"))
		}
	})
	if *portFile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		if err := os.WriteFile(*portFile+".tmp", []byte(strconv.Itoa(port)), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(*portFile+".tmp", *portFile); err != nil {
			log.Fatal(err)
		}
	}
	go func() {
		// Never outlive the test: exit when the parent goes or life ends.
		parent := os.Getppid()
		deadline := time.Now().Add(*life)
		for time.Now().Before(deadline) && os.Getppid() == parent {
			time.Sleep(200 * time.Millisecond)
		}
		os.Exit(0)
	}()
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

func apiError(typ, msg string) map[string]any {
	return map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}, "request_id": "req_mock"}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("content-type", "application/json")
	w.Header().Set("request-id", "req_mock")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

type request struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

// answer is the happy path: a Write tool call first, a text answer once the
// tool's result is in the conversation.
func answer(w http.ResponseWriter, body []byte) {
	var req request
	json.Unmarshal(body, &req)
	model := req.Model
	if model == "" {
		model = "claude-mock"
	}
	toolDone := strings.Contains(string(body), `"tool_result"`)
	m := writeRE.FindSubmatch(body)
	var blocks []map[string]any
	stop := "end_turn"
	switch {
	case m != nil && !toolDone:
		blocks = append(blocks, map[string]any{"type": "text", "text": "Writing the file."},
			map[string]any{"type": "tool_use", "id": "toolu_mock1", "name": "Write",
				"input": map[string]string{"file_path": string(m[1]), "content": "written by claude\n"}})
		stop = "tool_use"
	case toolDone:
		blocks = append(blocks, map[string]any{"type": "text", "text": "Done: the file is written."})
	default:
		blocks = append(blocks, map[string]any{"type": "text", "text": "ok"})
	}
	usage := map[string]int{"input_tokens": 120, "output_tokens": 30}
	if !req.Stream {
		writeJSON(w, 200, map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
			"content": blocks, "stop_reason": stop, "stop_sequence": nil, "usage": usage})
		return
	}
	w.Header().Set("content-type", "text/event-stream")
	w.Header().Set("cache-control", "no-cache")
	w.Header().Set("request-id", "req_mock")
	w.WriteHeader(200)
	fl, _ := w.(http.Flusher)
	send := func(event string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if fl != nil {
			fl.Flush()
		}
	}
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]int{"input_tokens": 120, "output_tokens": 1}}})
	for i, b := range blocks {
		switch b["type"] {
		case "text":
			send("content_block_start", map[string]any{"type": "content_block_start", "index": i,
				"content_block": map[string]string{"type": "text", "text": ""}})
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i,
				"delta": map[string]string{"type": "text_delta", "text": b["text"].(string)}})
		case "tool_use":
			send("content_block_start", map[string]any{"type": "content_block_start", "index": i,
				"content_block": map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}})
			in, _ := json.Marshal(b["input"])
			send("content_block_delta", map[string]any{"type": "content_block_delta", "index": i,
				"delta": map[string]string{"type": "input_json_delta", "partial_json": string(in)}})
		}
		send("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
	}
	send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]int{"output_tokens": 30}})
	send("message_stop", map[string]any{"type": "message_stop"})
}
