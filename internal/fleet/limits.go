package fleet

import (
	"context"
	"time"
)

// maxSharedLimit bounds how long another member's limit holds sheets here.
const maxSharedLimit = 24 * time.Hour

// RateLimitSeen shares a rate limit this conductor hit (never blocks).
func (m *Member) RateLimitSeen(instrument string, until time.Time) {
	select {
	case m.limitsOut <- Limit{Instrument: instrument, Until: until, Member: m.opts.Name}:
	default:
		m.opts.Log.Warn("fleet: too many rate limits to share at once; dropped one", "instrument", instrument)
	}
}

func (m *Member) publishLimit(ctx context.Context, l Limit) {
	l.Account = l.Instrument
	if m.opts.Account != nil {
		l.Account = m.opts.Account(l.Instrument)
	}
	octx, cancel := context.WithTimeout(ctx, m.opTimeout())
	defer cancel()
	if err := m.st.publishLimit(octx, l); err != nil {
		m.opts.Log.Warn("cannot share a rate limit with the fleet", "account", l.Account, "err", err)
		return
	}
	m.mu.Lock()
	m.limits[l.Account+"\x00"+l.Member] = l.Until
	m.mu.Unlock()
}

// applyLimits hands this conductor the limits other members saw.
func (m *Member) applyLimits(ctx context.Context) {
	ls, err := m.st.limits(ctx)
	if err != nil {
		return
	}
	for _, l := range ls {
		if l.Member == m.opts.Name || !l.Until.After(time.Now()) {
			continue
		}
		// A member's word holds sheets here: never for longer than a day
		// (a usage window), whatever a broken member wrote.
		if cap := time.Now().Add(maxSharedLimit); l.Until.After(cap) {
			l.Until = cap
		}
		k := l.Account + "\x00" + l.Member
		m.mu.Lock()
		seen := !l.Until.After(m.limits[k])
		if !seen {
			m.limits[k] = l.Until
		}
		m.mu.Unlock()
		if !seen {
			m.opts.Log.Info("fleet: a member's rate limit holds this account here too", "account", l.Account,
				"member", l.Member, "until", l.Until)
			m.opts.Local.ApplyLimit(l)
		}
	}
}
