package score

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// chainScore is a score of stages chained one after another, each with
// voices sheets and the given prompt.
func chainScore(stages, voices int, prompt string) []byte {
	var b strings.Builder
	b.WriteString("id = \"chain\"\n[defaults]\ninstrument = \"shell\"\n")
	for i := range stages {
		p := prompt
		if i == 0 {
			p = "true" // it has no .Prev
		}
		fmt.Fprintf(&b, "[[stage]]\nid = \"s%d\"\nvoices = %d\nprompt = %q\n", i, voices, p)
	}
	return []byte(b.String())
}

// cost is the fastest of three parses of data and the bytes one allocates.
func cost(t *testing.T, data []byte) (time.Duration, uint64) {
	t.Helper()
	best := time.Duration(1 << 62)
	var bytes uint64
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		if _, err := Parse("chain.toml", data, nil); err != nil {
			t.Fatal(err)
		}
		best = min(best, time.Since(start))
		runtime.ReadMemStats(&after)
		bytes = after.TotalAlloc - before.TotalAlloc
	}
	return best, bytes
}

// Parsing and checking a score costs in proportion to its size: ten times
// the stages, about ten times the time and memory (it was a hundred times:
// every key was located by counting lines from the top, and every stage
// built a .Prev of every stage before it). The bound is loose, for a busy
// machine; a quadratic cost would be far past it.
func TestParseScalesLinearly(t *testing.T) {
	if testing.Short() {
		t.Skip("parses 22,000 stages")
	}
	for _, tt := range []struct {
		prompt string
		voices int // stages are 1,000 then 10,000 sheets
	}{
		{"echo {{.Voice}}", 1},
		{"echo {{len .Prev}}", 1},                        // .Prev as a whole
		{"echo {{with .Prev.s0}}{{.Output}}{{end}}", 1},  // one early stage, far up the chain
		{"echo {{.Voice}} {{len .Prev.s0.Voices}}", 100}, // every voice rendered
	} {
		t.Run(fmt.Sprintf("%s/%d voices", tt.prompt, tt.voices), func(t *testing.T) {
			n := 1000 / tt.voices
			small, large := chainScore(n, tt.voices, tt.prompt), chainScore(10*n, tt.voices, tt.prompt)
			// A quadratic cost is ~100x; a busy machine can stretch a linear
			// time past 30x once, so time gets three chances below 50x.
			var timeRatio, memRatio float64
			for range 3 {
				t1, b1 := cost(t, small)
				t10, b10 := cost(t, large)
				t.Logf("1,000 sheets: %v, %d KB; 10,000 sheets: %v, %d KB", t1, b1>>10, t10, b10>>10)
				timeRatio, memRatio = float64(t10)/float64(t1), float64(b10)/float64(b1)
				if timeRatio <= 50 {
					break
				}
			}
			if timeRatio > 50 {
				t.Errorf("10x the sheets took %.0fx the time", timeRatio)
			}
			if memRatio > 30 {
				t.Errorf("10x the sheets took %.0fx the memory", memRatio)
			}
		})
	}
}

// A short score can ask for a million sheets (1,000 chained stages of 1,000
// voices, 60 KB): it is refused, naming the count, before anything costs per
// sheet (it took 35 s and 10 GB).
func TestParseRefusesTooManySheets(t *testing.T) {
	data := chainScore(1000, 1000, "echo {{.Voice}} {{.Prev}}")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse("big.toml", data, nil)
	runtime.ReadMemStats(&after)
	var ps strict.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Msg, "the score has 1000000 sheets") ||
		!strings.Contains(ps[0].Msg, "more than the 10000 a job may have") || !strings.Contains(ps[0].Msg, "max_sheets_per_job") {
		t.Fatalf("Parse = %v, want one problem naming 1000000 sheets and the limit", err)
	}
	if used := after.TotalAlloc - before.TotalAlloc; used > 100<<20 {
		t.Errorf("refusing it allocated %d MB", used>>20)
	}

	// The conductor's limit replaces the default.
	_, err = ParseWith("small.toml", chainScore(3, 2, "true"), ParseOptions{MaxSheets: 5})
	if err == nil || !strings.Contains(err.Error(), "the score has 6 sheets (voices of every stage together), more than the 5") {
		t.Errorf("ParseWith(MaxSheets 5) = %v", err)
	}
	if _, err := ParseWith("small.toml", chainScore(3, 2, "true"), ParseOptions{MaxSheets: 6}); err != nil {
		t.Errorf("6 sheets with a limit of 6: %v", err)
	}
}

func BenchmarkParseChain(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		data := chainScore(n, 1, "echo {{len .Prev}} {{.Prev.s0.Output}}")
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse("chain.toml", data, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
