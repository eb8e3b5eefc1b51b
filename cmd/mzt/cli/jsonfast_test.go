package cli

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", "<a href=\"x\">&amp;</a>", "tab\tnl\ncr\rbs\\", "\b\f\x00\x01\x1f\x7f",
		"é ü 日本", "\u2028\u2029", "bad \xff\xfe utf8", "\xed\xa0\x80", "trailing \xe2\x82"}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"z")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		buf := make([]byte, r.IntN(12))
		for i := range buf {
			buf[i] = byte(r.IntN(256))
		}
		cases = append(cases, string(buf))
	}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendJSONFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 0.25, 1e-6, 9.99e-7, 1e-7, 1.5e-10, 1e20, 1e21, 123456789.125,
		-3.14e-9, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.30000000000000004} {
		want, _ := json.Marshal(f)
		got, err := appendJSONFloat(nil, f)
		if err != nil || string(got) != string(want) {
			t.Fatalf("appendJSONFloat(%v) = %s, %v; want %s", f, got, err, want)
		}
	}
	if _, err := appendJSONFloat(nil, math.NaN()); err == nil {
		t.Fatal("NaN was encoded")
	}
}

// fill sets every field of v (a pointer) to a value that is not empty, so
// that a field the fast encoder dropped or misordered shows in the output.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("v<" + string(rune('a'+seed%26)) + ">\n")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed*7 + 1))
	case reflect.Float64:
		v.SetFloat(float64(seed) + 0.125)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), seed+1)
		fill(v.Index(1), seed+2)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed+i)
			}
		}
	}
}

func TestIndentedJSONMatchesEncodingJSON(t *testing.T) {
	var full jobJSON
	fill(reflect.ValueOf(&full).Elem(), 3)
	var fullSheet sheetJSON
	fill(reflect.ValueOf(&fullSheet).Elem(), 5)
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"empty job", jobJSON{}},
		{"every job field set", full},
		{"empty sheet", sheetJSON{Validations: []validationJSON{}, Notes: []string{}}},
		{"every sheet field set", fullSheet},
		{"job of a listing", toJobJSON(listedJob())},
		{"falls back for a map", map[string]int{"b": 2, "a": 1}},
		{"falls back for an embedded struct", struct {
			validationJSON
			X int `json:"x"`
		}{validationJSON{Type: "t"}, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if planFor(reflect.TypeOf(tc.v)) == nil && (tc.name == "every job field set" || tc.name == "every sheet field set") {
				t.Fatalf("%T takes the slow path", tc.v)
			}
			for _, prefix := range []string{"", "    "} {
				want, err := json.MarshalIndent(tc.v, prefix, "  ")
				if err != nil {
					t.Fatal(err)
				}
				got, err := indentedJSON(nil, tc.v, prefix)
				if err != nil || string(got) != string(want) {
					t.Fatalf("prefix %q: got (err %v)\n%s\nwant\n%s", prefix, err, got, want)
				}
			}
		})
	}
}

func BenchmarkIndentedJSONJob(b *testing.B) {
	j := toJobJSON(listedJob())
	var buf []byte
	for b.Loop() {
		buf, _ = indentedJSON(buf[:0], j, "    ")
	}
}

// listedJob is a finished job as a listing shows it.
func listedJob() *messages.JobInfo {
	return &messages.JobInfo{Id: "hist-00042", Name: "hist-00042", Status: "completed", ScorePath: "/bench/hist-00042.toml",
		Workspace: "/bench/ws", CreatedAtUnixNano: 1_790_000_000_123_456_789, StartedAtUnixNano: 1_790_000_000_123_456_789,
		FinishedAtUnixNano: 1_790_000_001_123_456_789, SheetsTotal: 3, SheetsCompleted: 2, SheetsFailed: 1, Run: 2,
		HasCost: true, CostUsd: 0.0123, HasTokens: true, InputTokens: 1200, OutputTokens: 340, Group: "g", Priority: -1}
}
