package jobs

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/actors/monitor"
)

// slots are the conductor-wide sheet slots: max_concurrent_sheets, each
// instrument's max_concurrent, instrument rate-limit windows and the
// pressure gate, with the sheets waiting for one in request order. It is a
// plain value: the manager feeds it messages and sends the grants.
type slots struct {
	maxSheets int // max_concurrent_sheets
	waiters   []*slotRequest
	held      map[slotKey]heldSlot
	perInst   map[string]int       // held slots by instrument
	rateUntil map[string]time.Time // an instrument is rate limited until then
	rateBy    map[string]string    // the fleet member whose limit that is; none: this conductor's (fleet.go)
	pressure  monitor.Level
	closed    bool // draining: nothing is granted any more
	lastGrant time.Time
}

type heldSlot struct {
	instrument string
	grantedAt  time.Time
	job        *actor.PID
}

type slotKey struct {
	jobID string
	num   int
}

// slotGrant is one slot handed out: the job's actor is told to start num.
type slotGrant struct {
	job *actor.PID
	num int
}

func newSlots(maxSheets int) *slots {
	return &slots{maxSheets: maxSheets, held: map[slotKey]heldSlot{}, perInst: map[string]int{},
		rateUntil: map[string]time.Time{}}
}

// startGap spaces out starts under low and medium pressure.
var startGap = map[monitor.Level]time.Duration{monitor.Low: 200 * time.Millisecond, monitor.Medium: time.Second}

// request queues a sheet for a slot.
func (s *slots) request(r *slotRequest) { s.waiters = append(s.waiters, r) }

// grant hands out slots in request order, within every limit, as of now. A
// waiter that cannot have one keeps its place; wakeAt (zero: none) is when
// a rate-limit window or a start gap ends and grant should run again.
func (s *slots) grant(now time.Time) (grants []slotGrant, wakeAt time.Time) {
	if s.closed || s.pressure >= monitor.High || len(s.waiters) == 0 {
		return nil, time.Time{}
	}
	gap := startGap[s.pressure]
	wake := func(t time.Time) {
		if wakeAt.IsZero() || t.Before(wakeAt) {
			wakeAt = t
		}
	}
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		until := s.rateUntil[w.instrument]
		switch {
		case len(s.held) >= s.maxSheets:
		case w.maxConcurrent > 0 && s.perInst[w.instrument] >= w.maxConcurrent:
		case now.Before(until):
			wake(until)
		case gap > 0 && now.Sub(s.lastGrant) < gap:
			wake(s.lastGrant.Add(gap))
		default:
			s.held[slotKey{w.jobID, w.num}] = heldSlot{instrument: w.instrument, grantedAt: now, job: w.job}
			s.perInst[w.instrument]++
			s.lastGrant = now
			grants = append(grants, slotGrant{job: w.job, num: w.num})
			continue
		}
		kept = append(kept, w)
	}
	clear(s.waiters[len(kept):]) // drop references held by the old tail
	s.waiters = kept
	return grants, wakeAt
}

// release gives back the slot of a job's sheet (nothing when it holds none).
func (s *slots) release(jobID string, num int) {
	k := slotKey{jobID, num}
	if h, ok := s.held[k]; ok {
		delete(s.held, k)
		s.perInst[h.instrument]--
	}
}

// releaseJob gives back every slot a job holds and drops its waiters.
func (s *slots) releaseJob(jobID string) {
	for k := range s.held {
		if k.jobID == jobID {
			s.release(jobID, k.num)
		}
	}
	s.cancel(jobID)
}

// cancel drops a job's waiters; the slots it holds stay held.
func (s *slots) cancel(jobID string) {
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if w.jobID != jobID {
			kept = append(kept, w)
		}
	}
	clear(s.waiters[len(kept):])
	s.waiters = kept
}

// rateLimit records that an instrument is limited until then (a window only
// grows); it returns the window now in force.
func (s *slots) rateLimit(instrument string, until time.Time) (time.Time, bool) {
	grew := until.After(s.rateUntil[instrument])
	if grew {
		s.rateUntil[instrument] = until
	}
	return s.rateUntil[instrument], grew
}

// close stops granting and forgets every waiter (the conductor is draining).
func (s *slots) close() {
	s.closed = true
	s.waiters = nil
}

// holds reports whether a job's sheet holds a slot.
func (s *slots) holds(jobID string, num int) bool {
	_, ok := s.held[slotKey{jobID, num}]
	return ok
}
