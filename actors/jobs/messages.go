package jobs

import (
	"time"

	"github.com/mzt-dev/mzt/config"
)

// CountsRequest asks for the numbers conductor-status shows; reply Counts.
type CountsRequest struct{}

// Counts is what the jobs actor knows about the work in flight.
type Counts struct {
	RunningJobs, QueuedJobs, RunningSheets int
	Accepting                              bool
	Draining                               bool
}

// Drain stops admission. Running sheets finish; after Timeout (0 = no limit)
// or at once with Force they are interrupted (recorded so they run again at
// the next start). The sender gets Drained when nothing runs any more.
type Drain struct {
	Force   bool
	Timeout time.Duration
}

// Drained answers Drain.
type Drained struct{ Interrupted int }

// Reconfigure applies a reloaded config (limits take effect at once).
type Reconfigure struct{ Config *config.Config }
