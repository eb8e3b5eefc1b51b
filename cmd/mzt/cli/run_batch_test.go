package cli

import (
	"strings"
	"testing"
)

func TestBatchPaths(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		stdin   string
		want    string
		wantErr string
	}{
		{"arguments", []string{"a.toml", "b.toml"}, "", "a.toml,b.toml", ""},
		{"stdin lines, blanks skipped", []string{"-"}, "a.toml\n\n  b.toml  \nc.toml", "a.toml,b.toml,c.toml", ""},
		{"stdin among arguments", []string{"x.toml", "-", "y.toml"}, "a.toml\n", "x.toml,a.toml,y.toml", ""},
		{"empty stdin", []string{"-"}, "\n\n", "", "no score paths on stdin"},
		{"stdin twice", []string{"-", "-"}, "a.toml\n", "", "given twice"},
		{"a line too long", []string{"-"}, strings.Repeat("x", maxBatchLine+1) + "\n", "", "longer than"},
		{"too many", []string{"-"}, strings.Repeat("a.toml\n", maxBatchScores+1), "", "more than 10000 scores"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := batchPaths(tc.args, strings.NewReader(tc.stdin))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
