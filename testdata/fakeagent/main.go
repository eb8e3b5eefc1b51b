// Command fakeagent stands in for an agent CLI (claude, codex, ...) in tests.
//
// Directives, one per line of the prompt (leading spaces allowed, other lines ignored), run in order:
//
//	@write PATH CONTENT...   write CONTENT (`\n` = newline) to PATH, creating directories
//	@append PATH CONTENT...  append CONTENT likewise
//	@stdout TEXT... / @stderr TEXT...  print a line
//	@sleep DURATION          Go duration
//	@exit CODE               exit now with CODE
//	@ratelimit N [TEXT]      the first N invocations print a rate-limit message (or TEXT) on stderr and exit 1
//	@fail N                  the first N invocations fail (exit 1, message on stderr)
//	@auth                    print "Error: invalid api key" on stderr, exit 1
//	@usage IN OUT COST       print a Claude-style JSON result object on stdout
//	@result SUBTYPE TEXT...  print Claude stream-json: init, an assistant message TEXT, and a result
//	                         of SUBTYPE (is_error unless "success"; exit 1 then)
//	@result-fail N TEXT...   the first N invocations print TEXT on stderr and a Claude error result
//	                         (error_during_execution, with a session id), and exit 1
//	@stream N INTERVAL       print N Claude stream-json events, one every INTERVAL (a busy, silent agent)
//	@args FILE               append this invocation's arguments (one line) to FILE
//	@usage-stream IN OUT COST  print Claude stream-json (init, an assistant message, a tool call, result)
//	@codex-usage IN OUT      print codex exec --json events (an agent message, a command, turn.completed)
//	@gemini-usage IN OUT     print a Gemini --output-format json object (pretty-printed, stats per model)
//	@spawn-orphan DURATION   start `sleep DURATION` in a new session (outlives us), PID in orphan.pid
//	@spawn-child DURATION    start `sleep DURATION` in our process group, PID in child.pid
//	@alloc MB                allocate and touch MB megabytes, kept until exit
//	@ignore-term             ignore SIGTERM from now on (children started later inherit it)
//	@await PATH              wait (at most a minute) until PATH exists: the test says when to go on
//
// The prompt is read from --prompt-file F, else from stdin, else (stdin empty) from the last argument,
// so the program can stand in for instruments with prompt_via = file, stdin or arg.
// Invocation counters for @ratelimit/@fail live in .fakeagent-<kind>-<hash of the directive lines> in
// the working directory, so retries of the same prompt (whatever its preamble) share a counter.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var known = map[string]bool{
	"@write": true, "@append": true, "@stdout": true, "@stderr": true, "@sleep": true, "@exit": true,
	"@ratelimit": true, "@fail": true, "@auth": true, "@usage": true, "@spawn-orphan": true,
	"@spawn-child": true, "@alloc": true, "@ignore-term": true, "@await": true, "@result": true, "@result-fail": true, "@stream": true, "@args": true,
	"@usage-stream": true, "@codex-usage": true, "@gemini-usage": true,
}

func main() {
	prompt, err := readPrompt(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeagent:", err)
		os.Exit(2)
	}
	os.Exit(run(prompt))
}

func readPrompt(args []string) (string, error) {
	for i, a := range args {
		if a == "--prompt-file" && i+1 < len(args) {
			b, err := os.ReadFile(args[i+1])
			return string(b), err
		}
		if f, ok := strings.CutPrefix(a, "--prompt-file="); ok {
			b, err := os.ReadFile(f)
			return string(b), err
		}
	}
	b, err := io.ReadAll(os.Stdin)
	if err != nil {
		return "", err
	}
	if len(b) == 0 && len(args) > 0 {
		return args[len(args)-1], nil
	}
	return string(b), nil
}

// agent holds what directives accumulate while the prompt runs.
type agent struct {
	hash   string
	stdout []string
	memory [][]byte // @alloc keeps its pages referenced until exit
}

func run(prompt string) int {
	var lines [][]string
	h := sha256.New()
	for _, l := range strings.Split(prompt, "\n") {
		l = strings.TrimSpace(l)
		f := strings.Fields(l)
		if len(f) == 0 || !known[f[0]] {
			continue
		}
		io.WriteString(h, l+"\n")
		lines = append(lines, f)
	}
	a := &agent{hash: hex.EncodeToString(h.Sum(nil))[:16]}
	for _, f := range lines {
		code, done, err := a.do(f[0], f[1:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakeagent: %s: %v\n", f[0], err)
			return 2
		}
		if done {
			return code
		}
	}
	return 0
}

func rest(args []string, from int) string {
	if len(args) <= from {
		return ""
	}
	return strings.ReplaceAll(strings.Join(args[from:], " "), `\n`, "\n")
}

// do runs one directive; done reports that the agent must exit with code now.
func (a *agent) do(name string, args []string) (code int, done bool, err error) {
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	switch name {
	case "@write", "@append":
		flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if name == "@append" {
			flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		if err := os.MkdirAll(filepath.Dir(arg(0)), 0o755); err != nil {
			return 0, false, err
		}
		f, err := os.OpenFile(arg(0), flag, 0o644)
		if err != nil {
			return 0, false, err
		}
		_, err = f.WriteString(rest(args, 1))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return 0, false, err
	case "@stdout":
		a.stdout = append(a.stdout, rest(args, 0))
		fmt.Println(rest(args, 0))
	case "@stderr":
		fmt.Fprintln(os.Stderr, rest(args, 0))
	case "@sleep":
		d, err := time.ParseDuration(arg(0))
		if err != nil {
			return 0, false, err
		}
		time.Sleep(d)
	case "@await":
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(arg(0)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return 0, false, fmt.Errorf("@await %s: not there after a minute", arg(0))
			}
		}
	case "@exit":
		c, err := strconv.Atoi(arg(0))
		return c, true, err
	case "@ratelimit", "@fail":
		n, err := strconv.Atoi(arg(0))
		if err != nil {
			return 0, false, err
		}
		seen, err := a.count(strings.TrimPrefix(name, "@"))
		if err != nil || seen >= n {
			return 0, false, err
		}
		msg := "rate limit exceeded, try again in 2s"
		if name == "@fail" {
			msg = fmt.Sprintf("fakeagent: planned failure %d of %d", seen+1, n)
		}
		if t := rest(args, 1); t != "" && name == "@ratelimit" {
			msg = t
		}
		fmt.Fprintln(os.Stderr, msg)
		return 1, true, nil
	case "@auth":
		fmt.Fprintln(os.Stderr, "Error: invalid api key")
		return 1, true, nil
	case "@usage":
		in, err1 := strconv.ParseInt(arg(0), 10, 64)
		out, err2 := strconv.ParseInt(arg(1), 10, 64)
		cost, err3 := strconv.ParseFloat(arg(2), 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return 0, false, fmt.Errorf("want IN OUT COST, got %q", args)
		}
		text := strings.Join(a.stdout, "\n")
		if text == "" {
			text = "ok"
		}
		b, _ := json.Marshal(map[string]any{
			"type": "result", "is_error": false, "result": text,
			"usage":          map[string]int64{"input_tokens": in, "output_tokens": out},
			"total_cost_usd": cost,
		})
		fmt.Println(string(b))
	case "@result":
		return claudeResult(arg(0), rest(args, 1))
	case "@result-fail":
		n, err := strconv.Atoi(arg(0))
		if err != nil {
			return 0, false, err
		}
		seen, err := a.count("result-fail")
		if err != nil || seen >= n {
			return 0, false, err
		}
		fmt.Fprintln(os.Stderr, rest(args, 1))
		return claudeResult("error_during_execution", "gave up")
	case "@stream":
		n, err1 := strconv.Atoi(arg(0))
		every, err2 := time.ParseDuration(arg(1))
		if err1 != nil || err2 != nil {
			return 0, false, fmt.Errorf("want N INTERVAL, got %q", args)
		}
		for i := range n {
			b, _ := json.Marshal(map[string]any{"type": "assistant", "session_id": sessionID(),
				"message": map[string]any{"role": "assistant", "content": []any{
					map[string]any{"type": "tool_use", "id": fmt.Sprintf("t%d", i), "name": "Bash", "input": map[string]string{"command": "true"}}}}})
			fmt.Println(string(b))
			time.Sleep(every)
		}
	case "@args":
		f, err := os.OpenFile(arg(0), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return 0, false, err
		}
		_, err = fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return 0, false, err
	case "@usage-stream", "@codex-usage", "@gemini-usage":
		return 0, false, a.structured(name, args)
	case "@spawn-orphan", "@spawn-child":
		d, err := time.ParseDuration(arg(0))
		if err != nil {
			return 0, false, err
		}
		cmd := exec.Command("sleep", strconv.FormatFloat(d.Seconds(), 'f', -1, 64))
		// Inherited stdout/stderr: the grandchild holds the sheet's output open, as real ones do.
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		pidFile := "child.pid"
		if name == "@spawn-orphan" {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			pidFile = "orphan.pid"
		}
		if err := cmd.Start(); err != nil {
			return 0, false, err
		}
		if err := writeAtomic(pidFile, []byte(strconv.Itoa(cmd.Process.Pid))); err != nil {
			return 0, false, err
		}
		// Not waited for on purpose: the child must be left behind.
		return 0, false, cmd.Process.Release()
	case "@alloc":
		mb, err := strconv.Atoi(arg(0))
		if err != nil {
			return 0, false, err
		}
		b := make([]byte, mb<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		a.memory = append(a.memory, b)
	case "@ignore-term":
		signal.Ignore(syscall.SIGTERM)
	}
	return 0, false, nil
}

// count returns how many times this prompt already ran this directive kind, and records this run.
func (a *agent) count(kind string) (int, error) {
	path := ".fakeagent-" + kind + "-" + a.hash
	n := 0
	if b, err := os.ReadFile(path); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	} else if !os.IsNotExist(err) {
		return 0, err
	}
	return n, writeAtomic(path, []byte(strconv.Itoa(n+1)))
}

// writeAtomic writes a file under a temporary name and renames it into
// place: a test waiting for the file never reads it empty or half written.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sessionID is the session this invocation reports: the one it was asked to
// resume, else a new one named after the process.
func sessionID() string {
	for i, a := range os.Args {
		if a == "--resume" && i+1 < len(os.Args) {
			return os.Args[i+1]
		}
	}
	return fmt.Sprintf("sess-%d", os.Getpid())
}

// claudeResult prints what `claude -p --output-format stream-json --verbose`
// prints for a run that ends with subtype: an error_* subtype carries an
// errors list and the answer stays an answer.
func claudeResult(subtype, text string) (int, bool, error) {
	sid := sessionID()
	isErr := subtype != "success"
	for _, ev := range []map[string]any{
		{"type": "system", "subtype": "init", "session_id": sid, "tools": []string{"Bash", "Write"}},
		{"type": "assistant", "session_id": sid, "message": map[string]any{"role": "assistant",
			"content": []any{map[string]any{"type": "text", "text": text}}}},
	} {
		b, _ := json.Marshal(ev)
		fmt.Println(string(b))
	}
	res := map[string]any{"type": "result", "subtype": subtype, "is_error": isErr, "result": text, "session_id": sid,
		"total_cost_usd": 0.01, "usage": map[string]int64{"input_tokens": 10, "output_tokens": 5}}
	if isErr && subtype != "success" {
		res["errors"] = []string{"fakeagent: " + subtype}
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if isErr {
		return 1, true, nil
	}
	return 0, false, nil
}
