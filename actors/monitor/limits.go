package monitor

import "github.com/mzt-dev/mzt/internal/cgroup"

// applySheetLimits hands max_sheet_memory_mb and max_sheet_processes to the
// cgroup tree (new tries get them; 0 lifts a limit), and says once per
// setting when they cannot be enforced here.
func (a *Actor) applySheetLimits() {
	rl := a.cfg.ResourceLimits
	warn := ""
	switch {
	case a.cgroups != nil:
		a.cgroups.SetSheetLimits(cgroup.Limits{MemoryBytes: int64(rl.MaxSheetMemoryMB) << 20,
			Pids: int64(rl.MaxSheetProcesses)})
		if rl.MaxSheetMemoryMB == 0 && rl.MaxSheetProcesses == 0 {
			break
		}
		ctl := a.cgroups.Controllers()
		switch {
		case rl.MaxSheetMemoryMB > 0 && !ctl.Memory:
			warn = "but the cgroup tree has no memory controller, so max_sheet_memory_mb is not enforced"
		case rl.MaxSheetProcesses > 0 && !ctl.Pids:
			warn = "but the cgroup tree has no pids controller, so max_sheet_processes is not enforced"
		}
	case rl.MaxSheetMemoryMB > 0 || rl.MaxSheetProcesses > 0:
		warn = "without cgroups (process groups only), so they are not enforced"
	}
	if warn != "" && warn != a.warned {
		a.log.Warn("per-sheet limits are set "+warn, "max_sheet_memory_mb", rl.MaxSheetMemoryMB,
			"max_sheet_processes", rl.MaxSheetProcesses)
	}
	a.warned = warn
}
