package monitor

import (
	"fmt"

	"github.com/mzt-dev/mzt/internal/proctable"
	"github.com/shirou/gopsutil/v4/mem"
)

// Sample is one reading of the conductor's footprint.
type Sample struct {
	ConductorRSS   uint64 // bytes
	DescendantRSS  uint64 // bytes, every process below the conductor
	Descendants    int
	AvailableBytes uint64 // the system's available memory
}

// TakeSample walks /proc once and sums the process tree below root.
func TakeSample(root int) (Sample, error) {
	table, err := proctable.Snapshot()
	if err != nil {
		return Sample{}, err
	}
	self, found := table.Procs[root]
	if !found {
		return Sample{}, fmt.Errorf("process %d not found in /proc", root)
	}
	s := Sample{ConductorRSS: self.RSSBytes}
	for _, pid := range table.Descendants(root) {
		s.Descendants++
		s.DescendantRSS += table.Procs[pid].RSSBytes
	}
	vm, err := mem.VirtualMemory()
	if err != nil {
		return Sample{}, fmt.Errorf("read system memory: %w", err)
	}
	s.AvailableBytes = vm.Available
	return s, nil
}
