package cli

import (
	"fmt"
	"strings"

	"github.com/mzt-dev/mzt/messages"
)

// fullSheetTable is the most sheets the text view of a job lists whole; a
// bigger job lists the sheets that need a look and counts the rest, so a
// 10,000-sheet job answers with a screen, not 10,000 lines.
const fullSheetTable = 100

// quietSheet is a sheet a big job's table leaves out: done as planned, or
// not begun.
func quietSheet(s *messages.SheetInfo) bool {
	switch s.State() {
	case messages.SheetCompleted, messages.SheetPending, messages.SheetSkipped:
		return !s.GetStalled() && len(s.GetNotes()) == 0
	}
	return false
}

// shownSheets picks the sheets the text view lists and counts, per status,
// the ones it leaves out (none when all, or when the job is small).
func shownSheets(sheets []*messages.SheetInfo, all bool) (shown []*messages.SheetInfo, hidden map[messages.SheetState]int) {
	if all || len(sheets) <= fullSheetTable {
		return sheets, nil
	}
	hidden = map[messages.SheetState]int{}
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
