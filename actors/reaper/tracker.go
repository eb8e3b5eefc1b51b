package reaper

import (
	"strings"
	"sync"
)

// TokenEnv is the variable every sheet process gets; descendants inherit it,
// which is how an escaped process is traced back to its sheet.
const TokenEnv = "MZT_SHEET_TOKEN"

// Tracker is what the attempt goroutines tell the reaper, synchronously,
// about the processes they start: which sheet tokens are live and which
// PIDs are sheet leaders (waited for by their own goroutine, so the reaper
// must never reap them). It is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	live    map[string]int // token -> leader PID
	leaders map[int]bool
	runs    map[string]bool // every run this conductor started a try of
	// handedOver: the conductor leaves its running tries to the next one,
	// so its last sweep must not treat them as leftovers.
	handedOver bool
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{live: map[string]int{}, leaders: map[int]bool{}, runs: map[string]bool{}}
}

// SheetStarting marks token live before its process exists, so that no
// sweep can mistake the new process for a leftover.
func (t *Tracker) SheetStarting(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live[token] = 0
	if run, _, ok := strings.Cut(token, "/"); ok {
		t.runs[run] = true
	}
}

// runPrefixes are the token prefixes of every run this conductor worked on.
func (t *Tracker) runPrefixes() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.runs))
	for r := range t.runs {
		out = append(out, r+"/")
	}
	return out
}

// SheetStarted records the attempt's leader once it runs.
func (t *Tracker) SheetStarted(token string, leader int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live[token] = leader
	t.leaders[leader] = true
}

// SheetEnded forgets an attempt whose leader has been waited for.
func (t *Tracker) SheetEnded(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if leader, ok := t.live[token]; ok {
		delete(t.leaders, leader)
		delete(t.live, token)
	}
}

// isLeader reports whether pid is a running attempt's leader.
func (t *Tracker) isLeader(pid int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.leaders[pid]
}

// claimed reports, at the moment of deciding, whether pid is a leader or
// carries a live token, or (without a token) whether any sheet is live.
func (t *Tracker) claimed(pid int, token string, hasToken bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leaders[pid] {
		return true
	}
	if !hasToken {
		return len(t.live) > 0
	}
	_, live := t.live[token]
	return live
}

type trackerView struct {
	live    map[string]bool
	leaders map[int]bool
}

func (t *Tracker) view() trackerView {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := trackerView{live: make(map[string]bool, len(t.live)), leaders: make(map[int]bool, len(t.leaders))}
	for tok := range t.live {
		v.live[tok] = true
	}
	for pid := range t.leaders {
		v.leaders[pid] = true
	}
	return v
}

// Keep marks pid, a direct child of the conductor that is not a sheet (the
// supervisor of its tries), as never to be reaped or killed by a sweep.
func (t *Tracker) Keep(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.leaders[pid] = true
}

// HandOver tells the reaper that the conductor is leaving its running tries
// (held by their supervisor) to the next conductor: its final sweep spares them.
func (t *Tracker) HandOver() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.handedOver = true
}

func (t *Tracker) isHandedOver() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.handedOver
}
