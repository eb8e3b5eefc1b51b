package monitor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/shirou/gopsutil/v4/mem"
)

// Sample is one reading of the conductor's footprint.
type Sample struct {
	ConductorRSS   uint64 // bytes
	DescendantRSS  uint64 // bytes, every process below the conductor
	Descendants    int
	AvailableBytes uint64 // the system's available memory
}

// procEntry is what we need of /proc/PID/stat.
type procEntry struct {
	pid, ppid int
	rss       uint64 // bytes
}

var pageSize = uint64(os.Getpagesize())

// readProc parses /proc/PID/stat; comm may hold spaces and parentheses, so
// fields are counted from the last ')'.
func readProc(pid int) (procEntry, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procEntry{}, err
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procEntry{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := bytes.Fields(data[i+1:])
	// After comm: state(0) ppid(1) ... rss is field 24 overall, index 21 here.
	if len(fields) < 22 {
		return procEntry{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ppid, _ := strconv.Atoi(string(fields[1]))
	rssPages, _ := strconv.ParseUint(string(fields[21]), 10, 64)
	return procEntry{pid: pid, ppid: ppid, rss: rssPages * pageSize}, nil
}

// TakeSample walks /proc once and sums the process tree below root.
func TakeSample(root int) (Sample, error) {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return Sample{}, fmt.Errorf("read /proc: %w", err)
	}
	children := map[int][]procEntry{}
	var self procEntry
	found := false
	for _, d := range dir {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		e, err := readProc(pid)
		if err != nil {
			continue // exited while we walked
		}
		if pid == root {
			self, found = e, true
		}
		children[e.ppid] = append(children[e.ppid], e)
	}
	if !found {
		return Sample{}, fmt.Errorf("process %d not found in /proc", root)
	}
	s := Sample{ConductorRSS: self.rss}
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			s.Descendants++
			s.DescendantRSS += c.rss
			queue = append(queue, c.pid)
		}
	}
	vm, err := mem.VirtualMemory()
	if err != nil {
		return Sample{}, fmt.Errorf("read system memory: %w", err)
	}
	s.AvailableBytes = vm.Available
	return s, nil
}
