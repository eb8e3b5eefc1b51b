package fleet

import "time"

// OrphanDeadline is how long a try of job jobID may run on this member's
// supervisor once this member's conductor is gone (0: not a fleet job of
// this member, no limit). The member's lease outlives its conductor by at
// least two thirds of its TTL (it was renewed at most a third ago), and the
// job is placed elsewhere only once it expired: a try stopped a third of the
// TTL after the conductor went, with a grace of at most half that, is dead
// before another member can start the job.
func (m *Member) OrphanDeadline(jobID string) time.Duration {
	m.mu.Lock()
	_, fleetJob := m.owned[jobID]
	m.mu.Unlock()
	if !fleetJob {
		return 0
	}
	return m.opts.LeaseTTL / 3
}
