package monitor

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/proctable"
	"github.com/shirou/gopsutil/v4/mem"
)

// Sample is one reading of the conductor's footprint.
type Sample struct {
	ConductorBytes uint64 // the conductor's own memory
	SheetBytes     uint64 // every sheet's memory, each page counted once
	Processes      int    // below the conductor, in every sheet's cgroup or process tree
	AvailableBytes uint64 // the system's available memory
	Units          []Unit // per sheet (and per anything else the conductor started)
	// Accounting says how memory was measured: "cgroup" (each try's working
	// set), "pss" (proportional set size: a shared page split between its
	// users) or "rss" (where smaps_rollup is unreadable).
	Accounting string
}

// Unit is one try's share of the footprint: its cgroup, or without cgroups
// the tree below one child of the conductor.
type Unit struct {
	Leader      int // the try's first process (the one the job actor knows)
	MemoryBytes uint64
	Processes   int
}

// TakeSample measures the conductor and everything it started, without a
// cgroup tree.
func TakeSample(root int) (Sample, error) { return takeSample(root, nil, readPSS, "") }

// usageFunc reads every try's cgroup (nil: no cgroups).
type usageFunc func() ([]cgroup.Usage, error)

// NewSampler measures through the tree's cgroups where it can (nil tree:
// /proc only).
func NewSampler(tree *cgroup.Tree) func(root int) (Sample, error) { return NewSamplerOf(tree, "") }

// NewSamplerOf is NewSampler counting also the tries held by the
// supervisors of supervisorsDir that an earlier conductor started (tries
// adopted after a restart).
func NewSamplerOf(tree *cgroup.Tree, supervisorsDir string) func(root int) (Sample, error) {
	var usage usageFunc
	if tree != nil {
		usage = tree.Usage
	}
	return func(root int) (Sample, error) { return takeSample(root, usage, readPSS, supervisorsDir) }
}

// takeSample: each try's cgroup where cgroups are on (nothing in it can hide
// by leaving the process tree, and the kernel's own count is exact), then
// the process trees below the conductor that no cgroup holds. Memory is
// never a plain sum of RSS: a page shared by a hundred processes would count
// a hundred times.
func takeSample(root int, cgroups usageFunc, pss func(int) (uint64, bool), supervisorsDir string) (Sample, error) {
	table, err := proctable.Snapshot()
	if err != nil {
		return Sample{}, err
	}
	if _, found := table.Procs[root]; !found {
		return Sample{}, fmt.Errorf("process %d not found in /proc", root)
	}
	s := Sample{Accounting: "pss"}
	memOf := func(pid int) uint64 {
		if v, ok := pss(pid); ok {
			return v
		}
		s.Accounting = "rss"
		return table.Procs[pid].RSSBytes
	}
	s.ConductorBytes = memOf(root)
	counted := map[int]bool{root: true}
	if cgroups != nil {
		usage, err := cgroups()
		if err != nil {
			return Sample{}, err
		}
		for _, u := range usage {
			if len(u.Procs) == 0 {
				continue
			}
			unit := Unit{Processes: len(u.Procs), Leader: firstStarted(table, u.Procs)}
			for _, pid := range u.Procs {
				counted[pid] = true
			}
			if u.HasMemory {
				unit.MemoryBytes = u.MemoryBytes
				s.Accounting = "cgroup"
			} else {
				for _, pid := range u.Procs {
					if _, live := table.Procs[pid]; live {
						unit.MemoryBytes += memOf(pid)
					}
				}
			}
			s.Units = append(s.Units, unit)
		}
	}
	// A try forked by a supervisor is a child of the supervisor, not of
	// the conductor; the supervisor itself counts with the conductor.
	sups := supervisorsOf(table, root, supervisorsDir)
	for pid := range sups {
		counted[pid] = true
		s.ConductorBytes += memOf(pid)
	}
	for child, p := range table.Procs {
		if (p.PPID != root && !sups[p.PPID]) || counted[child] || p.Zombie {
			continue
		}
		unit := Unit{Leader: child}
		for _, pid := range table.Tree(child, child) {
			// A zombie has exited: it holds no memory and is about to be
			// reaped (the conductor is the subreaper of what sheets leave).
			if !counted[pid] && !table.Procs[pid].Zombie {
				counted[pid] = true
				unit.Processes++
				unit.MemoryBytes += memOf(pid)
			}
		}
		s.Units = append(s.Units, unit)
	}
	sort.Slice(s.Units, func(i, j int) bool { return s.Units[i].Leader < s.Units[j].Leader })
	for _, u := range s.Units {
		s.SheetBytes += u.MemoryBytes
		s.Processes += u.Processes
	}
	vm, err := mem.VirtualMemory()
	if err != nil {
		return Sample{}, fmt.Errorf("read system memory: %w", err)
	}
	s.AvailableBytes = vm.Available
	return s, nil
}

// firstStarted is the process of pids that started first (the try's leader:
// everything else in its cgroup descends from it); 0 if none is alive.
func firstStarted(t *proctable.Table, pids []int) int {
	best := 0
	for _, pid := range pids {
		p, ok := t.Procs[pid]
		if !ok {
			continue
		}
		if b, ok := t.Procs[best]; best == 0 || !ok || p.StartTicks < b.StartTicks ||
			p.StartTicks == b.StartTicks && pid < best {
			best = pid
		}
	}
	return best
}

// readPSS reads a process's proportional set size from smaps_rollup.
func readPSS(pid int) (uint64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return 0, false
	}
	return parsePSS(data)
}

// parsePSS finds "Pss: N kB" in smaps_rollup.
func parsePSS(data []byte) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("Pss:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}
