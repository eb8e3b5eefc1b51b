package jobs

import (
	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/store"
)

// Pruning history sorts every finished run (and looks for unused score
// sources): with max_history runs kept it costs milliseconds, too much to pay
// for each finished job of a busy queue. It runs after one finished job in
// pruneEvery, so state.db holds at most max_history + pruneEvery - 1
// finished runs (1% over at most) between prunes.

// pruneEvery is how many jobs finish between prunes for a history of keep
// runs: 1% of keep, within [1, 100].
func pruneEvery(keep int) int {
	return min(max(keep/100, 1), 100)
}

// pruneState counts finished jobs since the last prune. The zero value
// prunes at the first finished job, so that a lowered max_history applies
// soon after a start.
type pruneState struct {
	pruned bool
	since  int
}

// due records a finished job and reports whether history is pruned now.
func (p *pruneState) due(keep int) bool {
	p.since++
	if p.pruned && p.since < pruneEvery(keep) {
		return false
	}
	p.pruned, p.since = true, 0
	return true
}

// jobFinished prunes history when it is due after a job finished.
func (a *Actor) jobFinished(ctx actor.Context) {
	if a.prune.due(a.cfg.MaxHistory) {
		ctx.Send(a.deps.Store, &store.Write{Op: &store.PruneHistory{Keep: a.cfg.MaxHistory}})
	}
}
