package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TokenEnv is the variable every try's processes carry (the conductor plants
// it; descendants inherit it): how an escaped process is traced to its try.
const TokenEnv = "MZT_SHEET_TOKEN"

// orphanGrace is how long an escaped process of an ended try gets between
// SIGTERM and SIGKILL.
const orphanGrace = 2 * time.Second

// orphanSweep kills what escaped an ended try. As the tries' subreaper the
// supervisor inherits every process that left a try's group (setsid,
// double fork): one whose token names no live try (or with no token, when
// no try runs) belongs to no one and is stopped, SIGTERM then SIGKILL.
// Identity is checked by start time before every signal.
type orphanSweep struct {
	t       *table
	pending map[int]orphan // SIGTERMed, awaiting SIGKILL
}

type orphan struct {
	ticks uint64
	kill  time.Time
}

// sweepGap is the least time between two sweeps a try's end asks for: a
// sweep walks /proc, and when short tries end by the hundred per second,
// one sweep per end would cost more than the tries. An escapee is stopped
// at most this much later.
const sweepGap = 100 * time.Millisecond

func (s *orphanSweep) loop(quit <-chan struct{}, kick <-chan struct{}) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last time.Time
	var due <-chan time.Time // a kick that came too soon after the last sweep
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		case <-due:
		case <-kick:
			if wait := sweepGap - time.Since(last); wait > 0 {
				if due == nil {
					due = time.After(wait)
				}
				continue
			}
		}
		due = nil
		last = time.Now()
		s.once(last)
	}
}

func (s *orphanSweep) once(now time.Time) {
	// Children first, then the live tries: a try is forked and registered
	// under one lock, so any child listed here that is a try is already
	// registered when liveSets reads the table (the other order would take
	// a try forked in between for an orphan).
	children := childrenOf(os.Getpid())
	live, tokens := s.t.liveSets()
	for _, pid := range children {
		if live[pid] {
			continue
		}
		state, ticks := procInfo(pid)
		if state == 0 || state == 'Z' {
			continue // gone, or for the reap loop
		}
		token, has := tokenOf(pid)
		if (has && tokens[token]) || (!has && len(live) > 0) {
			continue
		}
		if o, ok := s.pending[pid]; ok && o.ticks == ticks {
			if now.After(o.kill) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		s.pending[pid] = orphan{ticks: ticks, kill: now.Add(orphanGrace)}
	}
	for pid, o := range s.pending {
		if _, ticks := procInfo(pid); ticks != o.ticks {
			delete(s.pending, pid)
		}
	}
}

// liveSets are the leaders and tokens of the live tries.
func (t *table) liveSets() (leaders map[int]bool, tokens map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	leaders, tokens = make(map[int]bool, len(t.live)), make(map[string]bool, len(t.live))
	for pid, tr := range t.live {
		leaders[pid] = true
		tokens[tr.spec.Token] = true
	}
	return leaders, tokens
}

// childrenOf lists pid's children (each thread has its own list).
func childrenOf(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// procInfo is pid's state letter and start time (0, 0 when gone).
func procInfo(pid int) (byte, uint64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0
	}
	f := bytes.Fields(data[i+1:])
	const starttime = 22 - 3
	if len(f) <= starttime || len(f[0]) == 0 {
		return 0, 0
	}
	ticks, _ := strconv.ParseUint(string(f[starttime]), 10, 64)
	return f[0][0], ticks
}

func tokenOf(pid int) (string, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return "", false
	}
	prefix := []byte(TokenEnv + "=")
	for _, kv := range bytes.Split(data, []byte{0}) {
		if bytes.HasPrefix(kv, prefix) {
			return string(kv[len(prefix):]), true
		}
	}
	return "", false
}
