package instrument

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/config/strict"
	"github.com/pelletier/go-toml/v2"
)

const (
	fuzzPath       = "/home/u/.mzt/instruments/agent.toml"
	fuzzStem       = "agent"
	fuzzUnknownKey = "zz_fuzz_unknown"
)

// FuzzParse parses arbitrary instrument profiles. Properties:
//   - exactly one of the profile and the error is nil;
//   - the error is a non-empty strict.Problems, sorted, each naming the file,
//     with a message and a line inside the document;
//   - a parsed profile is valid (Validate), named after its file, sourced from
//     it, and builds argv/stdin as documented;
//   - a parsed profile round-trips: Marshal of it parses to an equal profile;
//   - an unknown key put in front of any TOML document is reported at 1:1.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(fuzzPath, data)
		switch {
		case p == nil && err == nil:
			t.Fatal("Parse returned neither a profile nor an error")
		case p != nil && err != nil:
			t.Fatalf("Parse returned both a profile and an error: %v", err)
		case err != nil:
			checkProblems(t, data, err)
		default:
			checkProfile(t, p)
			out, err := toml.Marshal(p)
			if err != nil {
				t.Fatalf("Marshal of a parsed profile: %v", err)
			}
			back, err := Parse(fuzzPath, out)
			if err != nil {
				t.Fatalf("the marshaled profile does not parse:\n%s\n%v", out, err)
			}
			if d := diffProfile(p, back); d != "" {
				t.Fatalf("round trip changed the profile: %s\nmarshaled:\n%s", d, out)
			}
		}

		// An unknown key in front of a document that is TOML.
		if !isTOML(data) {
			return
		}
		prefixed := append([]byte(fuzzUnknownKey+" = 1\n"), data...)
		if !isTOML(prefixed) {
			return // the document defines the key itself
		}
		pp, err := Parse(fuzzPath, prefixed)
		if pp != nil || err == nil {
			t.Fatalf("a profile with an unknown key parsed: %v", err)
		}
		ps := checkProblems(t, prefixed, err)
		if !slices.ContainsFunc(ps, func(p strict.Problem) bool {
			return p.Line == 1 && p.Col == 1 && strings.HasPrefix(p.Msg, fmt.Sprintf("unknown key %q", fuzzUnknownKey))
		}) {
			t.Fatalf("unknown key on line 1 not reported at 1:1; got:\n%v", err)
		}
	})
}

func isTOML(data []byte) bool {
	var m map[string]any
	return toml.Unmarshal(data, &m) == nil
}

// checkProblems checks the shape of an error of Parse and returns its problems.
func checkProblems(t *testing.T, data []byte, err error) strict.Problems {
	t.Helper()
	var ps strict.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, want strict.Problems: %v", err, err)
	}
	if len(ps) == 0 {
		t.Fatal("empty strict.Problems returned as an error")
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, p := range ps {
		s := p.String()
		switch {
		case p.File != fuzzPath || p.Msg == "":
			t.Fatalf("problem without the file or a message: %+v", p)
		case !strings.HasPrefix(s, fuzzPath) || !strings.HasSuffix(s, p.Msg):
			t.Fatalf("Problem.String() = %q for %+v", s, p)
		case p.Line < 0 || p.Col < 0 || p.Line > lines:
			t.Fatalf("problem at %d:%d of a %d-line profile: %s", p.Line, p.Col, lines, s)
		}
	}
	if !slices.IsSortedFunc(ps, func(a, b strict.Problem) int {
		line := func(p strict.Problem) int {
			if p.Line == 0 {
				return math.MaxInt
			}
			return p.Line
		}
		if la, lb := line(a), line(b); la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
		return a.Col - b.Col
	}) {
		t.Fatalf("problems are not sorted:\n%v", err)
	}
	return ps
}

// checkProfile checks what Parse promises of a profile it returns.
func checkProfile(t *testing.T, p *Profile) {
	t.Helper()
	if err := p.Validate(); err != nil {
		t.Fatalf("Parse returned a profile that does not validate: %v", err)
	}
	if p.Name != fuzzStem || p.Source != fuzzPath || p.OutputFormat == "" {
		t.Fatalf("name %q source %q output_format %q", p.Name, p.Source, p.OutputFormat)
	}
	const prompt, file = "the {model} prompt", "/tmp/prompt.txt"
	for _, model := range []string{"", "m-1"} {
		argv, stdin := p.Command(prompt, model, file)
		want := 1 + len(p.Args)
		if model != "" {
			want += len(p.ModelArgs)
		}
		if len(argv) != want || argv[0] != p.Executable {
			t.Fatalf("Command(model %q) = %q for args %q model_args %q", model, argv, p.Args, p.ModelArgs)
		}
		if (p.PromptVia == PromptViaStdin) != (stdin == prompt) {
			t.Fatalf("prompt_via %s gave stdin %q", p.PromptVia, stdin)
		}
		if p.PromptVia == PromptViaArg && !slices.ContainsFunc(argv[1:], func(a string) bool { return strings.Contains(a, prompt) }) {
			t.Fatalf("prompt_via arg: prompt not in argv %q", argv)
		}
		if p.PromptVia == PromptViaFile && !slices.ContainsFunc(argv[1:], func(a string) bool { return strings.Contains(a, file) }) {
			t.Fatalf("prompt_via file: prompt file not in argv %q", argv)
		}
	}
	for _, c := range p.Errors.SuccessExitCodes {
		if !p.IsSuccess(c) {
			t.Fatalf("exit code %d listed as success but IsSuccess is false", c)
		}
	}
	p.IsRateLimited("Rate limit reached")
	p.IsAuthError("invalid api key")
}

// diffProfile compares two profiles; a nil slice or map equals an empty one.
func diffProfile(a, b *Profile) string {
	var d []string
	add := func(what string, x, y any) { d = append(d, fmt.Sprintf("%s: %#v != %#v", what, x, y)) }
	if a.Name != b.Name {
		add("name", a.Name, b.Name)
	}
	if a.Executable != b.Executable {
		add("executable", a.Executable, b.Executable)
	}
	if !slices.Equal(a.Args, b.Args) {
		add("args", a.Args, b.Args)
	}
	if !slices.Equal(a.ModelArgs, b.ModelArgs) {
		add("model_args", a.ModelArgs, b.ModelArgs)
	}
	if a.PromptVia != b.PromptVia {
		add("prompt_via", a.PromptVia, b.PromptVia)
	}
	if a.RawPrompt != b.RawPrompt {
		add("raw_prompt", a.RawPrompt, b.RawPrompt)
	}
	if a.DefaultTimeout != b.DefaultTimeout {
		add("default_timeout", a.DefaultTimeout, b.DefaultTimeout)
	}
	if a.MaxConcurrent != b.MaxConcurrent {
		add("max_concurrent", a.MaxConcurrent, b.MaxConcurrent)
	}
	if !maps.Equal(a.Env, b.Env) {
		add("env", a.Env, b.Env)
	}
	if a.OutputFormat != b.OutputFormat {
		add("output_format", a.OutputFormat, b.OutputFormat)
	}
	if a.Source != b.Source {
		add("source", a.Source, b.Source)
	}
	ea, eb := a.Errors, b.Errors
	if !slices.Equal(ea.SuccessExitCodes, eb.SuccessExitCodes) {
		add("errors.success_exit_codes", ea.SuccessExitCodes, eb.SuccessExitCodes)
	}
	if !slices.Equal(ea.RateLimitPatterns, eb.RateLimitPatterns) {
		add("errors.rate_limit_patterns", ea.RateLimitPatterns, eb.RateLimitPatterns)
	}
	if !slices.Equal(ea.AuthPatterns, eb.AuthPatterns) {
		add("errors.auth_patterns", ea.AuthPatterns, eb.AuthPatterns)
	}
	if ea.RateLimitWait != eb.RateLimitWait {
		add("errors.rate_limit_wait", ea.RateLimitWait, eb.RateLimitWait)
	}
	return strings.Join(d, "; ")
}
