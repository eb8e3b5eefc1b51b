package cli

import (
	"fmt"
	"strings"

	"github.com/mzt-dev/mzt/messages"
)

// fullSheetTable is the most sheets the text view of a job lists whole; a
// bigger job lists the sheets that need a look and counts the rest, so a
// 10,000-sheet job answers with a screen, not 10,000 lines.
const fullSheetTable = messages.BriefSheets

// quietSheet is a sheet a big job's table leaves out: done as planned, or
// not begun.
func quietSheet(s *messages.SheetInfo) bool { return s.Quiet() }

// shownSheets picks the sheets the text view lists and counts, per status,
// the ones it leaves out (none when all, or when the job is small). A
// brief status the conductor cut already counts what it left out.
func shownSheets(st *messages.JobStatus, all bool) (shown []*messages.SheetInfo, hidden map[messages.SheetState]int) {
	sheets := st.GetSheets()
	if len(st.GetQuiet()) > 0 {
		hidden = map[messages.SheetState]int{}
		for status, n := range st.GetQuiet() {
			hidden[messages.SheetState(status)] += int(n)
		}
	}
	if all || len(sheets) <= fullSheetTable {
		return sheets, hidden
	}
	if hidden == nil {
		hidden = map[messages.SheetState]int{}
	}
	for _, s := range sheets {
		if quietSheet(s) {
			hidden[s.State()]++
			continue
		}
		shown = append(shown, s)
	}
	return shown, hidden
}

// hiddenSummary is the line under a big job's table: how many sheets it
// left out, per status in the usual order, and how to see them.
func hiddenSummary(hidden map[messages.SheetState]int, jobID string) string {
	total := 0
	var parts []string
	for _, st := range messages.SheetStates {
		if n := hidden[st]; n > 0 {
			total += n
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("\n  %d more sheets not listed (%s): mzt status %s --all-sheets\n", total, strings.Join(parts, ", "), jobID)
}
