package cli

import (
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

func TestShownSheets(t *testing.T) {
	big := func(n int, special map[int]*messages.SheetInfo) []*messages.SheetInfo {
		out := make([]*messages.SheetInfo, n)
		for i := range out {
			out[i] = &messages.SheetInfo{Num: int64(i + 1), Status: string(messages.SheetCompleted)}
			if s := special[i+1]; s != nil {
				s.Num = int64(i + 1)
				out[i] = s
			}
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		sheets  []*messages.SheetInfo
		all     bool
		shown   int
		summary string
	}{
		{"a small job lists every sheet", big(fullSheetTable, nil), false, fullSheetTable, ""},
		{"all-sheets lists a big job whole", big(10000, nil), true, 10000, ""},
		{"a big job lists what needs a look", big(10000, map[int]*messages.SheetInfo{
			5:   {Status: string(messages.SheetFailed)},
			6:   {Status: string(messages.SheetRunning)},
			7:   {Status: string(messages.SheetWaiting)},
			8:   {Status: string(messages.SheetPending)},
			9:   {Status: string(messages.SheetCompleted), Stalled: true},
			10:  {Status: string(messages.SheetCompleted), Notes: []string{"anomaly"}},
			11:  {Status: string(messages.SheetCancelled)},
			100: {Status: string(messages.SheetSkipped)},
		}), false, 6, "\n  9994 more sheets not listed (1 pending, 9992 completed, 1 skipped): mzt status J --all-sheets\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := &messages.JobStatus{Sheets: tc.sheets}
			// The conductor's brief status (what the text view asks for)
			// shows the same as the whole one cut here.
			for _, st := range []*messages.JobStatus{full, messages.Brief(full)} {
				if tc.all && st != full {
					continue // --all-sheets asks for every sheet
				}
				shown, hidden := shownSheets(st, tc.all)
				if len(shown) != tc.shown {
					t.Fatalf("shown %d sheets, want %d", len(shown), tc.shown)
				}
				if got := hiddenSummary(hidden, "J"); got != tc.summary {
					t.Fatalf("summary %q, want %q", got, tc.summary)
				}
				if len(shown)+sum(hidden) != len(tc.sheets) {
					t.Fatalf("%d shown + %d hidden != %d sheets", len(shown), sum(hidden), len(tc.sheets))
				}
			}
		})
	}
}

func sum(m map[messages.SheetState]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
