package strict

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// The fuzz schema has what the real ones have: nested tables, an optional
// table behind a pointer, arrays of tables inside arrays of tables, a map with
// free keys, and strict.Duration both plain and behind a pointer.

type fuzzRetry struct {
	Base   Duration  `toml:"base"`
	Max    *Duration `toml:"max"`
	Factor float64   `toml:"factor"`
}

type fuzzCheck struct {
	Kind  string   `toml:"kind"`
	Count int      `toml:"count"`
	Args  []string `toml:"args"`
}

type fuzzStep struct {
	Name    string            `toml:"name"`
	Timeout Duration          `toml:"timeout"`
	After   []string          `toml:"after"`
	Retry   *fuzzRetry        `toml:"retry"`
	Env     map[string]string `toml:"env"`
	Check   []fuzzCheck       `toml:"check"`
}

type fuzzDefaults struct {
	Timeout Duration  `toml:"timeout"`
	Retry   fuzzRetry `toml:"retry"`
}

type fuzzDoc struct {
	Title    string       `toml:"title"`
	Enabled  bool         `toml:"enabled"`
	Limit    int          `toml:"limit"`
	Defaults fuzzDefaults `toml:"defaults"`
	Step     []fuzzStep   `toml:"step"`
}

const (
	fuzzFile       = "fuzz.toml"
	fuzzUnknownKey = "zz_fuzz_unknown"
)

// FuzzDecode decodes arbitrary documents into fuzzDoc. Properties:
//   - the error is nil or a non-empty Problems (the type itself), sorted as
//     Problems.Sort sorts, each naming the file, with a message and a line
//     inside the document;
//   - decoding is deterministic;
//   - a document that decodes round-trips: Marshal of the value decodes
//     strictly, without problems, to an equal value that marshals the same;
//   - an unknown key put in front of any TOML document is reported at 1:1,
//     and when the document alone decoded, it is the only problem and the
//     value is still fully decoded.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var v fuzzDoc
		err := Decode(fuzzFile, data, &v)
		checkProblems(t, data, err)

		var again fuzzDoc
		if err2 := Decode(fuzzFile, data, &again); fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Fatalf("Decode is not deterministic:\n%v\nthen\n%v", err, err2)
		}

		Locate(data).Pos("step[0].check[0].kind") // must not panic

		if err == nil {
			roundTrip(t, &v)
		}

		// An unknown key in front of a document that is TOML.
		if !isTOML(data) {
			return
		}
		prefixed := append([]byte(fuzzUnknownKey+" = 1\n"), data...)
		if !isTOML(prefixed) {
			return // the document defines the key itself
		}
		var pv fuzzDoc
		perr := Decode(fuzzFile, prefixed, &pv)
		ps := checkProblems(t, prefixed, perr)
		i := slices.IndexFunc(ps, func(p Problem) bool {
			return p.Line == 1 && p.Col == 1 && p.Key == fuzzUnknownKey &&
				strings.HasPrefix(p.Msg, fmt.Sprintf("unknown key %q", fuzzUnknownKey))
		})
		if i < 0 {
			t.Fatalf("unknown key on line 1 not reported at 1:1; got:\n%v", perr)
		}
		if err == nil {
			if len(ps) != 1 {
				t.Fatalf("only the unknown key is wrong, got %d problems:\n%v", len(ps), perr)
			}
			if d := diffDoc(&v, &pv); d != "" {
				t.Fatalf("an unknown key changed what was decoded: %s", d)
			}
		}
	})
}

// roundTrip checks that v marshals to a document that decodes strictly to v.
func roundTrip(t *testing.T, v *fuzzDoc) {
	t.Helper()
	out, err := toml.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal of a decoded value: %v", err)
	}
	var back fuzzDoc
	if err := Decode(fuzzFile, out, &back); err != nil {
		t.Fatalf("the marshaled value does not decode:\n%s\n%v", out, err)
	}
	if d := diffDoc(v, &back); d != "" {
		t.Fatalf("round trip changed the value: %s\nmarshaled:\n%s", d, out)
	}
	// go-toml writes an empty map as an empty table and reads an empty table
	// back as no map: equal values (diffDoc above), different bytes. Stability
	// is asked of what the round trip gives.
	out, err = toml.Marshal(&back)
	if err != nil {
		t.Fatalf("Marshal of a decoded value: %v", err)
	}
	var back2 fuzzDoc
	if err := Decode(fuzzFile, out, &back2); err != nil {
		t.Fatalf("the marshaled value does not decode:\n%s\n%v", out, err)
	}
	out2, err := toml.Marshal(&back2)
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("marshal is not stable (%v):\n%s\nthen\n%s", err, out, out2)
	}
}

// checkProblems checks the shape of an error of Decode and returns its problems.
func checkProblems(t *testing.T, data []byte, err error) Problems {
	t.Helper()
	if err == nil {
		return nil
	}
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("error is %T, want Problems: %v", err, err)
	}
	if len(ps) == 0 {
		t.Fatal("empty Problems returned as an error")
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, p := range ps {
		s := p.String()
		switch {
		case p.File != fuzzFile:
			t.Fatalf("problem names file %q, want %q: %s", p.File, fuzzFile, s)
		case p.Msg == "":
			t.Fatalf("problem without a message: %+v", p)
		case !strings.HasPrefix(s, fuzzFile) || !strings.HasSuffix(s, p.Msg):
			t.Fatalf("Problem.String() = %q for %+v", s, p)
		case p.Line < 0 || p.Col < 0 || p.Line > lines:
			t.Fatalf("problem at %d:%d in a document of %d lines: %s", p.Line, p.Col, lines, s)
		case p.Line == 0 && p.Col != 0:
			t.Fatalf("column without a line: %+v", p)
		}
	}
	if !slices.IsSortedFunc(ps, compareProblems) {
		t.Fatalf("problems are not sorted:\n%v", err)
	}
	if err.Error() == "" {
		t.Fatal("Problems.Error() is empty")
	}
	return ps
}

// compareProblems is the order of Problems.Sort: file, then line (none last), then column.
func compareProblems(a, b Problem) int {
	if c := strings.Compare(a.File, b.File); c != 0 {
		return c
	}
	line := func(p Problem) int {
		if p.Line == 0 {
			return math.MaxInt
		}
		return p.Line
	}
	if c := line(a) - line(b); c != 0 {
		if c < 0 {
			return -1
		}
		return 1
	}
	return a.Col - b.Col
}

func isTOML(data []byte) bool {
	var m map[string]any
	return toml.Unmarshal(data, &m) == nil
}

// diffDoc compares two decoded documents; a nil slice or map equals an empty
// one, and NaN equals NaN. It returns "" when they are equal.
func diffDoc(a, b *fuzzDoc) string {
	var d []string
	add := func(what string, x, y any) { d = append(d, fmt.Sprintf("%s: %#v != %#v", what, x, y)) }
	if a.Title != b.Title {
		add("title", a.Title, b.Title)
	}
	if a.Enabled != b.Enabled {
		add("enabled", a.Enabled, b.Enabled)
	}
	if a.Limit != b.Limit {
		add("limit", a.Limit, b.Limit)
	}
	if a.Defaults.Timeout != b.Defaults.Timeout {
		add("defaults.timeout", a.Defaults.Timeout, b.Defaults.Timeout)
	}
	diffRetry(&d, "defaults.retry", &a.Defaults.Retry, &b.Defaults.Retry)
	if len(a.Step) != len(b.Step) {
		add("len(step)", len(a.Step), len(b.Step))
	} else {
		for i := range a.Step {
			sa, sb := &a.Step[i], &b.Step[i]
			k := fmt.Sprintf("step[%d]", i)
			if sa.Name != sb.Name {
				add(k+".name", sa.Name, sb.Name)
			}
			if sa.Timeout != sb.Timeout {
				add(k+".timeout", sa.Timeout, sb.Timeout)
			}
			if !slices.Equal(sa.After, sb.After) {
				add(k+".after", sa.After, sb.After)
			}
			switch {
			case (sa.Retry == nil) != (sb.Retry == nil):
				add(k+".retry", sa.Retry, sb.Retry)
			case sa.Retry != nil:
				diffRetry(&d, k+".retry", sa.Retry, sb.Retry)
			}
			if !maps.Equal(sa.Env, sb.Env) {
				add(k+".env", sa.Env, sb.Env)
			}
			if len(sa.Check) != len(sb.Check) {
				add(k+".len(check)", len(sa.Check), len(sb.Check))
				continue
			}
			for j := range sa.Check {
				ca, cb := sa.Check[j], sb.Check[j]
				if ca.Kind != cb.Kind || ca.Count != cb.Count || !slices.Equal(ca.Args, cb.Args) {
					add(fmt.Sprintf("%s.check[%d]", k, j), ca, cb)
				}
			}
		}
	}
	return strings.Join(d, "; ")
}

func diffRetry(d *[]string, key string, a, b *fuzzRetry) {
	if a.Base != b.Base {
		*d = append(*d, fmt.Sprintf("%s.base: %v != %v", key, a.Base, b.Base))
	}
	if (a.Max == nil) != (b.Max == nil) || a.Max != nil && *a.Max != *b.Max {
		*d = append(*d, fmt.Sprintf("%s.max: %v != %v", key, a.Max, b.Max))
	}
	if !(a.Factor == b.Factor || math.IsNaN(a.Factor) && math.IsNaN(b.Factor)) {
		*d = append(*d, fmt.Sprintf("%s.factor: %v != %v", key, a.Factor, b.Factor))
	}
}
