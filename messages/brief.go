package messages

// BriefSheets is the most sheets a brief status (JobStatusRequest.brief)
// lists whole; a bigger job lists the sheets that need a look and counts
// the rest, so a 10,000-sheet job answers with a screen, not 10,000 lines.
const BriefSheets = 100

// Quiet reports whether a brief status leaves s out: done as planned, or
// not begun, and nothing noted about it.
func (x *SheetInfo) Quiet() bool {
	switch x.State() {
	case SheetCompleted, SheetPending, SheetSkipped:
		return !x.GetStalled() && len(x.GetNotes()) == 0
	}
	return false
}

// Brief is st as a brief status: for a job of more than BriefSheets sheets,
// the sheets that need a look, and the others counted by status in Quiet.
// st is not changed.
func Brief(st *JobStatus) *JobStatus {
	if len(st.GetSheets()) <= BriefSheets {
		return st
	}
	out := &JobStatus{Job: st.GetJob(), Tries: st.GetTries(), Quiet: map[string]int64{}}
	for _, s := range st.GetSheets() {
		if s.Quiet() {
			out.Quiet[s.GetStatus()]++
			continue
		}
		out.Sheets = append(out.Sheets, s)
	}
	return out
}
