package cli

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

// randomJob is a job with each pointer field set or not, strings that need
// escaping or not, and floats of every magnitude.
func randomJob(r *rand.Rand) jobJSON {
	var j jobJSON
	v := reflect.ValueOf(&j).Elem()
	strs := []string{"", "plain", "<&>", "tab\t\"q\"", "é日本", "bad \xff", "\u2028"}
	floats := []float64{0, 1, -0.5, 1e-7, 1e21, 123.456, math.SmallestNonzeroFloat64}
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(strs[r.IntN(len(strs))])
		case reflect.Int64:
			f.SetInt(r.Int64N(1<<40) - 1<<39)
		case reflect.Pointer:
			if r.IntN(2) == 0 {
				continue
			}
			switch f.Type().Elem().Kind() {
			case reflect.String:
				s := strs[r.IntN(len(strs))]
				f.Set(reflect.ValueOf(&s))
			case reflect.Float64:
				x := floats[r.IntN(len(floats))]
				f.Set(reflect.ValueOf(&x))
			case reflect.Int64:
				x := r.Int64N(1 << 20)
				f.Set(reflect.ValueOf(&x))
			}
		case reflect.Slice:
			switch r.IntN(3) {
			case 0: // nil
			case 1:
				f.Set(reflect.MakeSlice(f.Type(), 0, 0))
			default:
				ids := make([]string, 1+r.IntN(3))
				for k := range ids {
					ids[k] = strs[r.IntN(len(strs))]
				}
				f.Set(reflect.ValueOf(ids))
			}
		}
	}
	return j
}

// The hand-written encoder of a job prints what encoding/json prints, byte
// for byte, for every field (fill sets them all: a field added to jobJSON
// and not to the encoder fails here) and for random mixes of null, empty
// and escaped values.
func TestJobAppendIndentedMatchesEncodingJSON(t *testing.T) {
	var full jobJSON
	fill(reflect.ValueOf(&full).Elem(), 3)
	noSheets := full
	noSheets.Sheets = nil
	cases := map[string]jobJSON{
		"empty":                    {},
		"every field set":          full,
		"every field but sheets":   noSheets,
		"a listed job":             toJobJSON(listedJob()),
		"a paused job with an eta": toJobJSON(&messages.JobInfo{Id: "p", Status: "paused", PauseReason: "budget", HasEta: true, EtaSeconds: 12.34, After: []string{"a", "b"}}),
	}
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 3000 {
		cases["random "+string(rune('a'+i%26))+string(rune('0'+i/26%10))+string(rune('0'+i/260))] = randomJob(r)
	}
	for name, j := range cases {
		for _, prefix := range []string{"", "    "} {
			want, err := json.MarshalIndent(j, prefix, "  ")
			if err != nil {
				t.Fatal(err)
			}
			got, err := j.appendIndented([]byte("x"), prefix)
			if err != nil || string(got) != "x"+string(want) {
				t.Fatalf("%s, prefix %q: got (err %v)\n%s\nwant\nx%s", name, prefix, err, got, want)
			}
		}
	}
	nan := math.NaN()
	if _, err := (&jobJSON{CostUSD: &nan}).appendIndented(nil, ""); err == nil {
		t.Fatal("a NaN cost was encoded")
	}
}

func BenchmarkJobAppendIndented(b *testing.B) {
	j := toJobJSON(listedJob())
	var buf []byte
	for b.Loop() {
		buf, _ = j.appendIndented(buf[:0], "    ")
	}
}
