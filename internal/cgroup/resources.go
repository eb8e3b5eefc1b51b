package cgroup

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Resource accounting and per-sheet limits. They need the memory and pids
// controllers in the conductor's subtree: where its parent does not delegate
// them, sheets are still isolated but neither measured nor limited here, and
// the monitor falls back to reading /proc.

// Limits cap each try's cgroup; 0 means unlimited.
type Limits struct {
	MemoryBytes int64 // memory.max (and memory.swap.max = 0, so the cap is not dodged by swapping)
	Pids        int64 // pids.max: the kernel counts threads as well as processes
}

// Controllers says which resource controllers the tree's sheets have.
type Controllers struct{ Memory, Pids bool }

// Controllers enables the memory and pids controllers for the sheets (once;
// best effort) and reports which ones they have.
func (t *Tree) Controllers() Controllers {
	t.ctlOnce.Do(func() {
		control := filepath.Join(t.dir, "cgroup.subtree_control")
		for _, c := range []string{"memory", "pids"} {
			_ = os.WriteFile(control, []byte("+"+c), 0o644) // fails where the parent does not delegate c
		}
		data, _ := os.ReadFile(control)
		for _, c := range strings.Fields(string(data)) {
			t.ctl.Memory = t.ctl.Memory || c == "memory"
			t.ctl.Pids = t.ctl.Pids || c == "pids"
		}
	})
	return t.ctl
}

// SetSheetLimits sets the limits every new try's cgroup gets (running tries
// keep theirs).
func (t *Tree) SetSheetLimits(l Limits) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limits = l
}

func (t *Tree) sheetLimits() Limits {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limits
}

// applyLimits writes the tree's limits into a new try's cgroup, before any
// process is in it, and remembers the ones that took: a limit the kernel
// refused leaves the try isolated but unlimited rather than unisolated.
func (s *Sheet) applyLimits() {
	want, ctl := s.tree.sheetLimits(), s.tree.Controllers()
	write := func(file, value string) bool {
		return os.WriteFile(filepath.Join(s.dir, file), []byte(value), 0o644) == nil
	}
	if want.MemoryBytes > 0 && ctl.Memory && write("memory.max", strconv.FormatInt(want.MemoryBytes, 10)) {
		s.limits.MemoryBytes = want.MemoryBytes
		write("memory.swap.max", "0") // absent without swap accounting: nothing to dodge with then
	}
	if want.Pids > 0 && ctl.Pids && write("pids.max", strconv.FormatInt(want.Pids, 10)) {
		s.limits.Pids = want.Pids
	}
}

// Limits are the limits this try's cgroup has.
func (s *Sheet) Limits() Limits { return s.limits }

// LimitHit says which of its limits the try ran into ("" if none): the
// kernel's own counts, in memory.events (oom_kill) and pids.events (max).
func (s *Sheet) LimitHit() string {
	return limitHit(s.dir, s.limits)
}

func limitHit(dir string, l Limits) string {
	var hits []string
	if l.MemoryBytes > 0 {
		if n := eventCount(filepath.Join(dir, "memory.events"), "oom_kill"); n > 0 {
			hits = append(hits, fmt.Sprintf("exceeded max_sheet_memory_mb (%d MB): the kernel killed %d of its processes",
				l.MemoryBytes>>20, n))
		}
	}
	if l.Pids > 0 {
		if n := eventCount(filepath.Join(dir, "pids.events"), "max"); n > 0 {
			hits = append(hits, fmt.Sprintf("reached max_sheet_processes (%d): %d forks were refused", l.Pids, n))
		}
	}
	return strings.Join(hits, "; ")
}

// eventCount reads one "key value" line of a cgroup events file (0 if absent).
func eventCount(path, key string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// Usage is what one try's cgroup holds.
type Usage struct {
	Name  string
	Procs []int // the processes (not threads) in it
	// MemoryBytes is the working set: memory.current less the inactive page
	// cache (memory.stat inactive_file), which the kernel reclaims before it
	// would fail an allocation. Valid when HasMemory.
	MemoryBytes uint64
	HasMemory   bool
}

// Usage reads every try's cgroup of the tree.
func (t *Tree) Usage() ([]Usage, error) {
	return readUsage(t.dir)
}

func readUsage(root string) ([]Usage, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read cgroup %s: %w", root, err)
	}
	var out []Usage
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		u := Usage{Name: e.Name(), Procs: procs(dir)}
		if cur, ok := readUint(filepath.Join(dir, "memory.current")); ok {
			inactive := eventCount(filepath.Join(dir, "memory.stat"), "inactive_file")
			u.MemoryBytes, u.HasMemory = cur-min(cur, uint64(max(inactive, 0))), true
		}
		out = append(out, u)
	}
	return out, nil
}

func readUint(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return v, err == nil
}

// Delegated says which resource controllers a conductor started from this
// process's cgroup could give its sheets (what its parent delegates).
func Delegated() (Controllers, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return Controllers{}, err
	}
	own, err := ownCgroup()
	if err != nil {
		return Controllers{}, err
	}
	data, err := os.ReadFile(filepath.Join(mount, own, "cgroup.subtree_control"))
	if err != nil {
		return Controllers{}, fmt.Errorf("read delegated controllers: %w", err)
	}
	var c Controllers
	for _, f := range strings.Fields(string(data)) {
		c.Memory = c.Memory || f == "memory"
		c.Pids = c.Pids || f == "pids"
	}
	return c, nil
}
