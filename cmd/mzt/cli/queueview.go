package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/mzt-dev/mzt/messages"
)

// queueColumns says whether the job table needs its GROUP and PRIORITY
// columns: only when some job uses them.
func queueColumns(jobs []*messages.JobInfo) bool {
	for _, j := range jobs {
		if j.GetGroup() != "" || j.GetPriority() != 0 {
			return true
		}
	}
	return false
}

// writeQueueDetail adds a job's queue controls to its status line.
func writeQueueDetail(w io.Writer, j *messages.JobInfo) {
	if len(j.GetAfter()) > 0 && j.State() == messages.JobQueued {
		fmt.Fprintf(w, " · waiting for %s", strings.Join(j.GetAfter(), ","))
	}
	if j.GetGroup() != "" {
		fmt.Fprintf(w, " · group %s", j.GetGroup())
	}
	if j.GetPriority() != 0 {
		fmt.Fprintf(w, " · priority %d", j.GetPriority())
	}
}
