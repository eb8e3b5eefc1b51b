package jobs

import (
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

func TestPageJobs(t *testing.T) {
	// five jobs, oldest first; c and d share a timestamp
	mk := func(id string, at int64) *messages.JobInfo { return &messages.JobInfo{Id: id, CreatedAtUnixNano: at} }
	jobs := []*messages.JobInfo{mk("a", 10), mk("b", 20), mk("c", 30), mk("d", 30), mk("e", 40)}
	ids := func(js []*messages.JobInfo) string {
		var b []string
		for _, j := range js {
			b = append(b, j.GetId())
		}
		return strings.Join(b, ",")
	}
	for _, tc := range []struct {
		name      string
		limit     uint32
		cursor    string
		want      string
		wantOlder int64
		wantNext  string
		wantErr   string
		hidden    int64
	}{
		{"no limit keeps all", 0, "", "a,b,c,d,e", 0, "", "", 0},
		{"limit keeps the newest", 2, "", "d,e", 3, "30/d", "", 0},
		{"limit as big as the list", 5, "", "a,b,c,d,e", 0, "", "", 0},
		{"next page breaks the timestamp tie by id", 2, "30/d", "b,c", 1, "20/b", "", 0},
		{"last page", 2, "20/b", "a", 0, "", "", 0},
		{"cursor without limit", 0, "30/c", "a,b", 0, "", "", 0},
		{"cursor before everything", 2, "5/x", "", 0, "", "", 0},
		{"malformed cursor", 2, "yesterday", "", 0, "", "not one mzt list printed", 0},
		{"oversized cursor", 2, strings.Repeat("9", 300), "", 0, "", "longer than", 0},
		// The store returned only the newest finished jobs: the hidden ones
		// are older than the page, whether or not the page is full.
		{"hidden jobs are older", 2, "", "d,e", 6, "30/d", "", 3},
		{"a full page of exactly what was given", 5, "", "a,b,c,d,e", 4, "10/a", "", 4},
		{"nothing given, nothing hidden", 2, "5/x", "", 0, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, older, next, err := pageJobs(jobs, tc.limit, tc.cursor, tc.hidden)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page); got != tc.want || older != tc.wantOlder || next != tc.wantNext {
				t.Fatalf("got %q older %d next %q; want %q older %d next %q", got, older, next, tc.want, tc.wantOlder, tc.wantNext)
			}
		})
	}
}
