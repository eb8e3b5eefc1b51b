package monitor

import (
	"bytes"
	"fmt"
	"os"

	"github.com/mzt-dev/mzt/internal/proctable"
)

// supervisorsOf finds root's children that are supervisors (`mzt
// supervise`): the tries they fork are measured as if root had forked them.
func supervisorsOf(t *proctable.Table, root int) map[int]bool {
	out := map[int]bool{}
	for pid, p := range t.Procs {
		if p.PPID != root || p.Zombie {
			continue
		}
		argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		if f := bytes.Split(argv, []byte{0}); len(f) > 1 && string(f[1]) == "supervise" {
			out[pid] = true
		}
	}
	return out
}
