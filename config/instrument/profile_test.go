package instrument

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

func TestBuiltinsAreValid(t *testing.T) {
	b := Builtins()
	for _, name := range []string{"shell", "claude-code", "codex", "gemini"} {
		p, ok := b[name]
		if !ok {
			t.Fatalf("built-in %q missing", name)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("built-in %s: %v", name, err)
		}
		if p.Source != BuiltinSource || p.Name != name {
			t.Errorf("built-in %s: name %q source %q", name, p.Name, p.Source)
		}
	}
	if len(b) != 4 {
		t.Errorf("%d built-ins, want 4", len(b))
	}
}

func TestBuiltinsAreFreshCopies(t *testing.T) {
	a := Builtins()
	a["shell"].Args[0] = "changed"
	a["claude-code"].Errors.RateLimitPatterns[0] = "changed"
	b := Builtins()
	if b["shell"].Args[0] != "-c" || b["claude-code"].Errors.RateLimitPatterns[0] == "changed" {
		t.Error("Builtins shares memory between calls")
	}
}

func TestCommand(t *testing.T) {
	b := Builtins()
	tests := []struct {
		name                string
		p                   *Profile
		prompt, model, file string
		wantArgv            []string
		wantStdin           string
	}{
		{"shell: prompt as an argument", b["shell"], "echo hi", "", "",
			[]string{"bash", "-c", "echo hi"}, ""},
		{"shell ignores a model", b["shell"], "echo hi", "m", "",
			[]string{"bash", "-c", "echo hi"}, ""},
		{"claude: stdin, no model", b["claude-code"], "do it", "", "",
			[]string{"claude", "-p", "--output-format", "json", "--permission-mode", "acceptEdits"}, "do it"},
		{"claude: model args appended", b["claude-code"], "do it", "opus", "",
			[]string{"claude", "-p", "--output-format", "json", "--permission-mode", "acceptEdits", "--model", "opus"}, "do it"},
		{"codex: model args before the trailing -", b["codex"], "do it", "o3", "",
			[]string{"codex", "exec", "--json", "--skip-git-repo-check", "--sandbox", "workspace-write", "--model", "o3", "-"}, "do it"},
		{"gemini: stdin", b["gemini"], "do it", "pro", "",
			[]string{"gemini", "--approval-mode", "auto_edit", "--output-format", "json", "--model", "pro"}, "do it"},
		{"file: path substituted, inside an argument too",
			&Profile{Executable: "agent", Args: []string{"--in={prompt_file}", "run"}, PromptVia: PromptViaFile},
			"ignored", "", "/tmp/p.txt",
			[]string{"agent", "--in=/tmp/p.txt", "run"}, ""},
		{"arg: single pass, a prompt mentioning {model} stays as is",
			&Profile{Executable: "agent", Args: []string{"{prompt}"}, ModelArgs: []string{"-m", "{model}"}, PromptVia: PromptViaArg},
			"say {model}", "x", "",
			[]string{"agent", "-m", "x", "say {model}"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv, stdin := tt.p.Command(tt.prompt, tt.model, tt.file)
			if !reflect.DeepEqual(argv, tt.wantArgv) || stdin != tt.wantStdin {
				t.Errorf("Command = %q, %q; want %q, %q", argv, stdin, tt.wantArgv, tt.wantStdin)
			}
		})
	}
}

func TestPatterns(t *testing.T) {
	c := Builtins()["claude-code"]
	for _, out := range []string{"API Error: Rate limit reached", "HTTP 429", "Claude AI usage limit reached", "Overloaded"} {
		if !c.IsRateLimited(out) {
			t.Errorf("%q should be a rate limit", out)
		}
	}
	for _, out := range []string{"all good", "error 4290"} {
		if c.IsRateLimited(out) {
			t.Errorf("%q should not be a rate limit", out)
		}
	}
	if !c.IsAuthError("Invalid API key · Please run /login") || c.IsAuthError("done") {
		t.Error("auth patterns")
	}
	if Builtins()["shell"].IsRateLimited("rate limit") {
		t.Error("shell has no rate-limit patterns")
	}
	if !c.IsSuccess(0) || c.IsSuccess(1) {
		t.Error("success codes")
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadMissingDir(t *testing.T) {
	m, err := Load(filepath.Join(t.TempDir(), "nope"))
	if err != nil || len(m) != 4 {
		t.Fatalf("Load = %d profiles, %v", len(m), err)
	}
}

func TestLoadOverridesBuiltinAndAddsNew(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "claude-code.toml", `executable = "/opt/claude/bin/claude"
args = ["-p", "--dangerously-skip-permissions"]
max_concurrent = 0
`)
	writeFile(t, dir, "my-agent.toml", `name = "my-agent"
executable = "my-agent"
args = ["--print", "{prompt}"]
prompt_via = "arg"
default_timeout = "5m"
env = { FOO = "bar" }
[errors]
rate_limit_patterns = ['slow down']
`)
	writeFile(t, dir, "README.md", "not a profile")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := m["claude-code"]
	// A user file replaces the built-in whole: omitted keys take user defaults.
	if c.Executable != "/opt/claude/bin/claude" || c.Source != filepath.Join(dir, "claude-code.toml") ||
		c.MaxConcurrent != 0 || c.OutputFormat != OutputText || len(c.Errors.RateLimitPatterns) != 0 ||
		c.PromptVia != PromptViaStdin || c.DefaultTimeout.D() != DefaultTimeout {
		t.Errorf("override: %+v", c)
	}
	a := m["my-agent"]
	if a == nil {
		t.Fatal("my-agent not loaded")
	}
	if a.DefaultTimeout.D() != 5*time.Minute || a.MaxConcurrent != DefaultMaxConcurrent ||
		a.Errors.RateLimitWait.D() != DefaultRateLimitWait || !reflect.DeepEqual(a.Errors.SuccessExitCodes, []int{0}) ||
		a.Env["FOO"] != "bar" || !a.IsRateLimited("please SLOW DOWN") {
		t.Errorf("my-agent: %+v", a)
	}
	if m["shell"].Source != BuiltinSource {
		t.Error("shell should stay built-in")
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string // substrings of Problem.String(), in order
	}{
		{"unknown key", "a.toml", "executable = 'a'\natempts = 3\n[errors]\nrate_limit_patern = ['x']\n",
			[]string{`a.toml:2:1: unknown key "atempts"`, `a.toml:4:1: unknown key "rate_limit_patern" (did you mean "rate_limit_patterns"?)`}},
		{"bad regex and prompt_via", "b.toml", "executable = 'b'\nprompt_via = 'pipe'\n[errors]\nauth_patterns = ['ok', '(']\n",
			[]string{`b.toml:2:1: prompt_via must be stdin, arg or file, not "pipe"`, `b.toml:4:24: errors.auth_patterns: error parsing regexp`}},
		{"name mismatch", "c.toml", "\nname = 'other'\nexecutable = 'c'\n",
			[]string{`c.toml:2:1: name "other" must match the file name "c"`}},
		{"missing executable and placeholder", "d.toml", "prompt_via = 'arg'\nargs = ['--go']\n",
			[]string{`d.toml:2:1: prompt_via = "arg" needs {prompt} in args`, `d.toml: executable is required`}},
		{"prompt placeholder without prompt_via arg", "e.toml", "executable = 'e'\nargs = ['{prompt}']\n",
			[]string{`e.toml:2:1: {prompt} in args needs prompt_via = "arg"`}},
		{"file placeholder missing", "f.toml", "executable = 'f'\nprompt_via = 'file'\n",
			[]string{`f.toml:2:1: prompt_via = "file" needs {prompt_file} in args`}},
		{"numbers out of range", "g.toml", "executable = 'g'\nmax_concurrent = -1\ndefault_timeout = '0s'\n[errors]\nsuccess_exit_codes = [0, 300]\n",
			[]string{`g.toml:2:1: max_concurrent must be 0`, `g.toml:3:1: default_timeout must be more than 0`, `g.toml:5:26: exit code 300`}},
		{"bare duration", "h.toml", "executable = 'h'\n[errors]\nrate_limit_wait = 60\n",
			[]string{`h.toml:3:19: "rate_limit_wait" must be a duration string`}},
		{"relative executable path and model in args", "i.toml", "executable = 'bin/i'\nargs = ['{model}']\n",
			[]string{`i.toml:1:1: executable "bin/i" must be a name looked up on PATH or an absolute path`, `i.toml:2:1: {model} may only appear in model_args`}},
		{"unknown output format", "j.toml", "executable = 'j'\noutput_format = 'json'\n",
			[]string{`j.toml:2:1: output_format must be text, claude-json, codex-jsonl or gemini-json, not "json"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "good.toml", "executable = 'good'\n")
			writeFile(t, dir, tt.file, tt.content)
			m, err := Load(dir)
			var ps strict.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("err = %v, want strict.Problems", err)
			}
			if len(ps) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tt.want), err)
			}
			for i, w := range tt.want {
				got := strings.TrimPrefix(ps[i].String(), dir+string(filepath.Separator))
				if !strings.Contains(got, w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got, w)
				}
			}
			if m["good"] == nil || m["shell"] == nil {
				t.Error("valid profiles must still be returned")
			}
			if _, bad := m[strings.TrimSuffix(tt.file, ".toml")]; bad {
				t.Error("an invalid profile must not be returned")
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := writeFile(t, dir, "fake-agent", "#!/bin/sh\n")
	if err := os.Chmod(exe, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	p := &Profile{Name: "f", Executable: "fake-agent"}
	if got, err := p.LookPath(); err != nil || got != exe {
		t.Errorf("LookPath = %q, %v", got, err)
	}
	p.Executable = exe
	if got, err := p.LookPath(); err != nil || got != exe {
		t.Errorf("absolute LookPath = %q, %v", got, err)
	}
	p.Executable = "no-such-agent"
	if _, err := p.LookPath(); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("LookPath of a missing executable: %v", err)
	}
}
