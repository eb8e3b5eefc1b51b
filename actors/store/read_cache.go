package store

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// readCache keeps the answers of the two reads whose cost grows with
// history, a listing of finished jobs and the status of a finished run,
// until the next write that could change them. A finished job does not
// change on its own, so a history listed again, or a run of 10,000 sheets
// asked about again (a dashboard, `mzt status --watch` of a finished job),
// costs a map look-up instead of reading every row again.
//
// Correctness rests on the store actor being the database's only writer:
// after every transaction that touched jobs, sheets or their tallies (only
// events and profiler samples are left out: no cached read shows them) it
// calls invalidate, which drops every entry. A read records the generation
// before it queries and keeps its answer only if no such write committed
// meanwhile, so an answer read before a write is never served after it.
//
// Answers are shared between callers, who must not modify them.
type readCache struct {
	mu     sync.Mutex
	gen    uint64
	lists  map[string][]ListedJob // by finished query
	totals map[string]int
	runs   map[string]Run // by job id
}

// At most this many answers of each kind are kept: a few listings (the
// whole history, its newest page) and the runs last asked about. The
// largest are bounded by max_history jobs and a score's sheets.
const (
	maxCachedLists = 4
	maxCachedRuns  = 2
)

// invalidate forgets every answer; the store actor calls it after each
// write that may change one.
func (c *readCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lists, c.totals, c.runs = nil, nil, nil
}

func (c *readCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *readCache) list(key string) ([]ListedJob, int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	jobs, ok := c.lists[key]
	return jobs, c.totals[key], ok
}

// keepList keeps a listing read at generation gen, unless a write came since.
func (c *readCache) keepList(gen uint64, key string, jobs []ListedJob, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.lists == nil || len(c.lists) >= maxCachedLists {
		c.lists, c.totals = map[string][]ListedJob{}, map[string]int{}
	}
	c.lists[key], c.totals[key] = jobs, total
}

func (c *readCache) run(jobID string) (Run, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	run, ok := c.runs[jobID]
	return run, ok
}

// keepRun keeps the status run of jobID read at generation gen, unless a
// write came since.
func (c *readCache) keepRun(gen uint64, jobID string, run Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.runs == nil || len(c.runs) >= maxCachedRuns {
		c.runs = map[string]Run{}
	}
	c.runs[jobID] = run
}

// listKey names what q selects; the excluded jobs are a set.
func listKey(q FinishedQuery) string {
	exclude := slices.Clone(q.Exclude)
	slices.Sort(exclude)
	var b strings.Builder
	b.WriteString(strconv.Itoa(q.Limit))
	if q.Before {
		b.WriteString("<" + strconv.FormatInt(q.BeforeNanos, 10) + "/" + q.BeforeID)
	}
	for _, id := range exclude {
		b.WriteString("\x00" + id)
	}
	return b.String()
}

// FinishedPage lists the latest run of every job whose latest run has
// finished and that q selects, newest first, reading one row per job (the
// tallies, never the sheets). total is how many jobs q selects without its
// limit. The answer may be shared with other callers: do not modify it.
func (db *DB) FinishedPage(ctx context.Context, q FinishedQuery) (jobs []ListedJob, total int, err error) {
	key := listKey(q)
	if jobs, total, ok := db.cache.list(key); ok {
		return jobs, total, nil
	}
	gen := db.cache.generation()
	jobs, total, err = db.finishedPage(ctx, q)
	if err == nil {
		db.cache.keepList(gen, key, jobs, total)
	}
	return jobs, total, err
}

// StatusRun returns the newest run of jobID as `mzt status` shows it: the
// job without its score source, the sheets without what status never shows
// (their output tail, process group, try count and rate-limit wait), which
// for a run of 10,000 sheets is most of the reading. ok is false when there
// is no run. The answer may be shared with other callers: do not modify it.
func (db *DB) StatusRun(ctx context.Context, jobID string) (run Run, ok bool, err error) {
	if run, ok := db.cache.run(jobID); ok {
		return run, true, nil
	}
	gen := db.cache.generation()
	run, ok, err = db.statusRun(ctx, jobID)
	if ok && err == nil {
		db.cache.keepRun(gen, jobID, run)
	}
	return run, ok, err
}
