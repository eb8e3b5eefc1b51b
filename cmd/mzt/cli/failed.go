package cli

import (
	"fmt"
	"io"

	"github.com/mzt-dev/mzt/messages"
)

// maxFailedShown bounds the failed sheets a finished run --wait lists.
const maxFailedShown = 20

// writeFailedSheets names every sheet that failed, with its stage and
// reason, and counts the ones skipped or cancelled because of them: "1 of 6
// sheets did not complete" alone says nothing of which or why.
func writeFailedSheets(w io.Writer, sheets []*messages.SheetInfo) {
	shown, failed, skipped, cancelled := 0, 0, 0, 0
	for _, s := range sheets {
		switch s.State() {
		case messages.SheetFailed:
			failed++
			if shown < maxFailedShown {
				shown++
				voice := ""
				if s.GetVoiceCount() > 1 {
					voice = fmt.Sprintf(" voice %d/%d", s.GetVoice(), s.GetVoiceCount())
				}
				fmt.Fprintf(w, "  sheet %d (stage %s%s) failed after %d attempt(s): %s\n", s.GetNum(), s.GetStage(), voice,
					s.GetAttempts(), lastErrorLine(s.GetError(), 200))
			}
		case messages.SheetSkipped:
			skipped++
		case messages.SheetCancelled:
			cancelled++
		}
	}
	if failed > shown {
		fmt.Fprintf(w, "  … and %d more failed sheets (mzt status)\n", failed-shown)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "  %d sheet(s) skipped: they depend on a sheet that did not complete\n", skipped)
	}
	if cancelled > 0 {
		fmt.Fprintf(w, "  %d sheet(s) cancelled\n", cancelled)
	}
}
