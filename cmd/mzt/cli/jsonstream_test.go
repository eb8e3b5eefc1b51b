package cli

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

// The streamed documents must be byte for byte what one indented encoding
// of the whole value prints: scripts and users parse and diff them.
func TestJSONWithArrayMatchesOneEncoding(t *testing.T) {
	type listTail struct {
		Older      int64  `json:"older,omitempty"`
		NextCursor string `json:"next_cursor,omitempty"`
	}
	job := func(id, name string) jobJSON {
		return toJobJSON(&messages.JobInfo{Id: id, Name: name, Status: "completed", CreatedAtUnixNano: 1e18,
			HasCost: true, CostUsd: 0.25, After: []string{"a", "b"}})
	}
	sheet := func(n int64) sheetJSON {
		return toSheetJSON(&messages.SheetInfo{Num: n, Stage: "s<&>", Status: "failed", Error: "line1\nline2\t\"q\"",
			Notes: []string{"stalled"}})
	}
	for _, tc := range []struct {
		name  string
		jobs  []jobJSON
		tail  listTail
		empty bool
	}{
		{name: "no jobs", jobs: nil},
		{name: "one job", jobs: []jobJSON{job("a", "A")}},
		{name: "html and unicode", jobs: []jobJSON{job("a<b>&c", "é\u2028x"), job("z", "")}},
		{name: "a page with more", jobs: []jobJSON{job("a", "A"), job("b", "B")}, tail: listTail{Older: 7, NextCursor: "123/a"}},
		{name: "only a cursor", jobs: []jobJSON{job("a", "A")}, tail: listTail{NextCursor: "1/x"}},
	} {
		t.Run("list/"+tc.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			jobs := tc.jobs
			if jobs == nil {
				jobs = []jobJSON{}
			}
			if err := enc.Encode(struct {
				Schema     string    `json:"schema"`
				Jobs       []jobJSON `json:"jobs"`
				Older      int64     `json:"older,omitempty"`
				NextCursor string    `json:"next_cursor,omitempty"`
			}{schema, jobs, tc.tail.Older, tc.tail.NextCursor}); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			err := jsonWithArray(&got, struct {
				Schema string `json:"schema"`
			}{schema}, "jobs", len(tc.jobs), func(i int) any { return tc.jobs[i] }, tc.tail)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("streamed:\n%s\nwant:\n%s", got.String(), want.String())
			}
		})
	}
	for _, n := range []int{0, 1, 3} {
		t.Run("status", func(t *testing.T) {
			sheets := make([]sheetJSON, n)
			for i := range sheets {
				sheets[i] = sheet(int64(i + 1))
			}
			j := job("big", "Big")
			j.Sheets = &sheets
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				Schema string `json:"schema"`
				jobJSON
			}{schema, j}); err != nil {
				t.Fatal(err)
			}
			j.Sheets = nil
			var got bytes.Buffer
			if err := jsonWithArray(&got, struct {
				Schema string `json:"schema"`
				jobJSON
			}{schema, j}, "sheets", n, func(i int) any { return sheets[i] }, nil); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("streamed:\n%s\nwant:\n%s", got.String(), want.String())
			}
		})
	}
	t.Run("head with no fields", func(t *testing.T) {
		var got bytes.Buffer
		if err := jsonWithArray(&got, struct{}{}, "x", 1, func(int) any { return 1 }, nil); err != nil {
			t.Fatal(err)
		}
		if want := "{\n  \"x\": [\n    1\n  ]\n}\n"; got.String() != want {
			t.Fatalf("got %q, want %q", got.String(), want)
		}
	})
	if err := jsonWithArray(&bytes.Buffer{}, []int{1}, "x", 0, nil, nil); err == nil {
		t.Fatal("an array head was accepted")
	}
}
