// Package proctable reads the process table from /proc in one walk: what
// the monitor and the profiler need of every process (parent, group, CPU
// time, memory, threads), and on request a process's open files and I/O.
// It never signals or changes a process.
package proctable

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Proc is what /proc/PID/stat says of one process.
type Proc struct {
	PID, PPID, PGID int
	CPUTicks        uint64 // user + system time, in clock ticks
	Threads         int
	RSSBytes        uint64
	StartTicks      uint64 // start time after boot, in clock ticks
	Zombie          bool   // exited, not yet reaped: holds no memory
}

// Table is one walk of /proc.
type Table struct {
	Procs    map[int]Proc
	children map[int][]int
}

var pageSize = uint64(os.Getpagesize())

// ClockTicks is the kernel's USER_HZ, which /proc reports times in; it is
// 100 on every Linux this runs on.
const ClockTicks = 100

// Read parses /proc/PID/stat; comm may hold spaces and parentheses, so
// fields are counted from the last ')'.
func Read(pid int) (Proc, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return Proc{}, err
	}
	return parseStat(pid, data)
}

func parseStat(pid int, data []byte) (Proc, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Proc{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := bytes.Fields(data[i+1:])
	// After comm: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ...
	// num_threads(17) ... starttime(19) vsize(20) rss(21).
	if len(f) < 22 {
		return Proc{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	num := func(k int) uint64 { v, _ := strconv.ParseUint(string(f[k]), 10, 64); return v }
	return Proc{PID: pid, PPID: int(num(1)), PGID: int(num(2)), CPUTicks: num(11) + num(12),
		Threads: int(num(17)), StartTicks: num(19), RSSBytes: num(21) * pageSize, Zombie: string(f[0]) == "Z"}, nil
}

// Snapshot walks /proc once.
func Snapshot() (*Table, error) {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	t := &Table{Procs: make(map[int]Proc, len(dir)), children: map[int][]int{}}
	for _, d := range dir {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		p, err := Read(pid)
		if err != nil {
			continue // exited while we walked
		}
		t.Procs[pid] = p
		t.children[p.PPID] = append(t.children[p.PPID], pid)
	}
	return t, nil
}

// Descendants lists every process below pid (not pid itself).
func (t *Table) Descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range t.children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// Tree is a sheet's processes: every member of process group pgid and every
// descendant of leader (a child that left the group with setsid is still
// the sheet's).
func (t *Table) Tree(leader, pgid int) []int {
	seen := map[int]bool{}
	var out []int
	add := func(pid int) {
		if !seen[pid] {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	if _, ok := t.Procs[leader]; ok {
		add(leader)
		for _, d := range t.Descendants(leader) {
			add(d)
		}
	}
	if pgid > 0 {
		for pid, p := range t.Procs {
			if p.PGID == pgid {
				add(pid)
				for _, d := range t.Descendants(pid) {
					add(d)
				}
			}
		}
	}
	return out
}

// OpenFiles counts a process's open file descriptors (0 when unreadable).
func OpenFiles(pid int) int {
	d, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	if err != nil {
		return 0
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	return len(names)
}

// IO returns the bytes a process read from and wrote to storage (0, 0 when
// unreadable).
func IO(pid int) (read, written int64) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "io"))
	if err != nil {
		return 0, 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		switch string(k) {
		case "read_bytes":
			read = n
		case "write_bytes":
			written = n
		}
	}
	return read, written
}
