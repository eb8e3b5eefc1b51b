package correlation

import "time"

// restShare spaces computations: after one that took d the next starts no
// sooner than restShare*d later, so that a busy queue (a job finishing every
// few milliseconds) leaves the analyzer a tenth of a core at most instead of
// all of one, however large history grows. Statistics are then at most a few
// computations old; insights always read afresh.
const restShare = 9

// pacer decides when the analyzer computes: at once when history changes
// after a rest, never two at a time, never sooner than its rest after the
// previous one, and every refreshEvery in any case. It is a plain value: the
// actor feeds it what happens and arms the timer it asks for.
type pacer struct {
	running bool      // a computation is in flight
	again   bool      // history changed while it ran or rested: a tick will come for it
	restTil time.Time // no computation starts before
}

// changed: history changed. start says to compute now; otherwise a wait
// above zero asks for a tick after it.
func (p *pacer) changed(now time.Time) (start bool, wait time.Duration) {
	switch {
	case p.running:
		p.again = true // done asks for the tick
		return false, 0
	case now.Before(p.restTil):
		if p.again {
			return false, 0 // its tick is armed already
		}
		p.again = true
		return false, p.restTil.Sub(now)
	}
	p.running = true
	return true, 0
}

// tick: the timer fired; start says to compute now.
func (p *pacer) tick() (start bool) {
	if p.running {
		return false // a change started one meanwhile
	}
	p.again, p.running = false, true
	return true
}

// done: a computation that took took ended; the next tick is due after wait.
func (p *pacer) done(now time.Time, took time.Duration) (wait time.Duration) {
	p.running = false
	rest := restShare * took
	p.restTil = now.Add(rest)
	if p.again {
		return rest
	}
	return refreshEvery
}
