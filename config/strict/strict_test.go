package strict

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type testBackoff struct {
	Base   Duration `toml:"base"`
	Factor float64  `toml:"factor"`
}

type testCheck struct {
	Type string `toml:"type"`
	Run  string `toml:"run"`
}

type testCommon struct {
	Timeout  Duration `toml:"timeout"`
	Attempts int      `toml:"attempts"`
}

type testStage struct {
	ID string `toml:"id"`
	testCommon
	Backoff  *testBackoff      `toml:"backoff"`
	Env      map[string]string `toml:"env"`
	Validate []testCheck       `toml:"validate"`
	Hidden   string            `toml:"-"`
}

type testDoc struct {
	Name     string      `toml:"name"`
	Tags     []string    `toml:"tags"`
	Enabled  bool        `toml:"enabled"`
	Defaults testCommon  `toml:"defaults"`
	Stage    []testStage `toml:"stage"`
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // Problem.String() of each problem, in order
	}{
		{"valid", "name = 'x'\n[defaults]\ntimeout = '30m'\n[[stage]]\nid = 'a'\nbackoff = { base = '1s', factor = 2 }\nenv = { ANY_KEY = 'v' }\n", nil},
		{"unknown top-level key", "nmae = 'x'\n", []string{`f.toml:1:1: unknown key "nmae" (did you mean "name"?)`}},
		{"unknown key without suggestion", "zzzzzz = 1\n", []string{`f.toml:1:1: unknown key "zzzzzz"`}},
		{"unknown keys in stages, tables, inline tables and arrays of inline tables",
			"[[stage]]\nid = 'a'\natempts = 3\nbackoff = { bsae = '1s' }\n[[stage.validate]]\ntype = 'x'\nrn = 'y'\n[[stage]]\nvalidate = [{ type = 'z', rnu = 'w' }]\n",
			[]string{
				`f.toml:3:1: unknown key "atempts" (did you mean "attempts"?)`,
				`f.toml:4:13: unknown key "bsae" (did you mean "base"?)`,
				`f.toml:7:1: unknown key "rn" (did you mean "run"?)`,
				`f.toml:9:27: unknown key "rnu" (did you mean "run"?)`,
			}},
		{"key in the wrong case", "[[stage]]\nAttempts = 3\n", []string{`f.toml:2:1: unknown key "Attempts" (did you mean "attempts"?)`}},
		{"unknown table", "[defualts]\ntimeout = '1s'\n", []string{`f.toml:1:2: unknown key "defualts" (did you mean "defaults"?)`}},
		{"ignored field is unknown", "[[stage]]\nHidden = 'x'\n", []string{`f.toml:2:1: unknown key "Hidden"`}},
		{"dotted key", "[[stage]]\nbackoff.bsae = '1s'\n", []string{`f.toml:2:1: unknown key "bsae" (did you mean "base"?)`}},
		{"syntax error", "name = \n", []string{`f.toml:1:8: unexpected character U+000A at start of value`}},
		{"type mismatches are all reported", "name = 3\nenabled = 'yes'\n[[stage]]\nattempts = 'x'\n",
			[]string{
				`f.toml:1:8: "name" must be a string, not an integer`,
				`f.toml:2:11: "enabled" must be true or false, not a string`,
				`f.toml:4:12: "attempts" must be an integer, not a string`,
			}},
		{"array element of wrong type", "tags = ['a', 2]\n", []string{`f.toml:1:14: "tags[1]" must be a string, not an integer`}},
		{"bare number for a duration", "[defaults]\ntimeout = 30\n[[stage]]\nbackoff = { base = 1.5 }\n",
			[]string{
				`f.toml:2:11: "timeout" must be a duration string such as "30s" or "1h30m", not an integer`,
				`f.toml:4:20: "base" must be a duration string such as "30s" or "1h30m", not a float`,
			}},
		{"invalid durations are all reported", "[defaults]\ntimeout = '30x'\n[[stage]]\ntimeout = 'soon'\n",
			[]string{
				`f.toml:2:11: "timeout": invalid duration "30x": write a number and a unit such as "30s", "10m" or "1h30m"`,
				`f.toml:4:11: "timeout": invalid duration "soon": write a number and a unit such as "30s", "10m" or "1h30m"`,
			}},
		{"table where a value is expected", "[name]\nx = 1\n", []string{`f.toml:1:2: "name" must be a string, not a table`}},
		{"table where an array of tables is expected", "[stage]\nid = 'a'\n",
			[]string{`f.toml:1:2: "stage" must be an array of tables ([[...]] sections or [{...}, ...]), not a table`}},
		{"inline table where an array of tables is expected", "[[stage]]\nvalidate = { type = 'x' }\n",
			[]string{`f.toml:2:12: "validate" must be an array of tables ([[...]] sections or [{...}, ...]), not a table`}},
		{"array of tables where a table is expected", "[[defaults]]\n",
			[]string{`f.toml:1:3: "defaults" must be a table, not an array of tables`}},
		{"keys in a map are free, values are typed", "[[stage]]\nenv = { A = 'x', B = 2 }\n",
			[]string{`f.toml:2:22: "B" must be a string, not an integer`}},
		{"duplicate key", "name = 'a'\nname = 'b'\n", []string{`f.toml:2:1: key name is already defined`}},
		{"unknown keys and type errors together", "nmae = 'x'\nenabled = 1\n[[stage]]\natempts = 2\n",
			[]string{
				`f.toml:1:1: unknown key "nmae" (did you mean "name"?)`,
				`f.toml:2:11: "enabled" must be true or false, not an integer`,
				`f.toml:4:1: unknown key "atempts" (did you mean "attempts"?)`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d testDoc
			err := Decode("f.toml", []byte(tt.doc), &d)
			var got []string
			if err != nil {
				var ps Problems
				if !errors.As(err, &ps) {
					t.Fatalf("error is %T, want Problems: %v", err, err)
				}
				for _, p := range ps {
					got = append(got, p.String())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	doc := "name = 'x'\n[defaults]\ntimeout = '1h30m'\n[[stage]]\nid = 'a'\nattempts = 2\nbackoff = { base = '10s', factor = 1.5 }\n[[stage.validate]]\ntype = 't'\n[[stage]]\nid = 'b'\n"
	var d testDoc
	if err := Decode("f.toml", []byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	if d.Defaults.Timeout.D() != 90*time.Minute {
		t.Errorf("timeout = %v", d.Defaults.Timeout)
	}
	if len(d.Stage) != 2 || d.Stage[0].Attempts != 2 || d.Stage[0].Backoff.Base.D() != 10*time.Second ||
		len(d.Stage[0].Validate) != 1 || d.Stage[1].ID != "b" {
		t.Errorf("decoded %+v", d)
	}
}

func TestUnknownKeysStillDecodeTheRest(t *testing.T) {
	var d testDoc
	err := Decode("f.toml", []byte("nmae = 'x'\n[[stage]]\nid = 'a'\n"), &d)
	if err == nil || len(d.Stage) != 1 || d.Stage[0].ID != "a" {
		t.Errorf("err = %v, decoded %+v", err, d)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.toml", Line: 3, Col: 4, Msg: "bad"}, "a.toml:3:4: bad"},
		{Problem{File: "a.toml", Line: 3, Msg: "bad"}, "a.toml:3: bad"},
		{Problem{File: "a.toml", Msg: "bad"}, "a.toml: bad"},
		{Problem{Line: 2, Col: 1, Msg: "bad"}, "2:1: bad"},
		{Problem{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.p, got, tt.want)
		}
	}
	ps := Problems{{File: "a", Line: 2, Msg: "x"}, {File: "a", Msg: "y"}}
	if got := ps.Error(); got != "a:2: x\na: y" {
		t.Errorf("Problems.Error() = %q", got)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"attempts", "timeout", "instrument", "id", "run", "name"}
	tests := []struct{ word, want string }{
		{"atempts", "attempts"},
		{"attmepts", "attempts"},
		{"ix", "id"},
		{"nmae", "name"},
		{"ATTEMPTS", "attempts"},
		{"timeot", "timeout"},
		{"instrumnet", "instrument"},
		{"rn", "run"},
		{"zzz", ""},
		{"workspace", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.word, cands); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"30m", 30 * time.Minute, "30m"},
		{"6h", 6 * time.Hour, "6h"},
		{"1h0m30s", time.Hour + 30*time.Second, "1h0m30s"},
		{"90s", 90 * time.Second, "1m30s"},
		{"1.5s", 1500 * time.Millisecond, "1.5s"},
		{"0s", 0, "0s"},
		{"250ms", 250 * time.Millisecond, "250ms"},
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil || d.D() != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v", tt.in, d.D(), err)
		}
		b, _ := d.MarshalText()
		if string(b) != tt.out {
			t.Errorf("MarshalText(%q) = %q, want %q", tt.in, b, tt.out)
		}
		var back Duration
		if err := back.UnmarshalText(b); err != nil || back != d {
			t.Errorf("round trip of %q gave %v, %v", tt.in, back, err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("30")); err == nil {
		t.Error("a bare number must not parse")
	}
}

func TestLocate(t *testing.T) {
	doc := `name = "x"
[defaults]
timeout = "1s"

[[stage]]
id = "a"
depends_on = ["x", "y"]
  [[stage.validate]]
  type = "file_exists"
  [[stage.validate]]
  type = "command"

[[stage]]
id = "b"
validate = [{ type = "a" }, { type = "b" }]
[stage.backoff]
base = "1s"
`
	pos := Locate([]byte(doc))
	for _, tt := range []struct {
		path      string
		line, col int
	}{
		{"name", 1, 1},
		{"defaults", 2, 2},
		{"defaults.timeout", 3, 1},
		{"defaults.attempts", 2, 2}, // absent: its table
		{"stage[0]", 5, 3},
		{"stage[0].id", 6, 1},
		{"stage[0].depends_on", 7, 1},
		{"stage[0].depends_on[1]", 7, 20},
		{"stage[0].validate[1]", 10, 5},
		{"stage[0].validate[1].type", 11, 3},
		{"stage[1]", 13, 3},
		{"stage[1].prompt", 13, 3},
		{"stage[1].validate[1].type", 15, 31},
		{"stage[1].backoff.base", 17, 1},
		{"nothing", 0, 0},
	} {
		if l, c := pos.Pos(tt.path); l != tt.line || c != tt.col {
			t.Errorf("Pos(%q) = %d:%d, want %d:%d", tt.path, l, c, tt.line, tt.col)
		}
	}
}
