package monitor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mzt-dev/mzt/internal/proctable"
)

// supervisorsOf finds the supervisors (`mzt supervise`) whose tries are
// measured as if root had forked them: root's children (the one this
// conductor started), and those of the home's supervisors folder dir,
// which an earlier conductor started and this one adopted tries from (they
// are no longer root's children: their parent died). A pid named by a
// socket counts only if it runs `supervise --dir dir`: a socket outlives
// its supervisor, and its pid may be reused.
func supervisorsOf(t *proctable.Table, root int, dir string) map[int]bool {
	out := map[int]bool{}
	for pid, p := range t.Procs {
		if p.PPID != root || p.Zombie {
			continue
		}
		if isSupervisor(cmdline(pid), "") {
			out[pid] = true
		}
	}
	if dir == "" {
		return out
	}
	socks, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
	for _, s := range socks {
		pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(s), ".sock"))
		if err != nil || out[pid] || pid == root {
			continue
		}
		if p, ok := t.Procs[pid]; !ok || p.Zombie {
			continue
		}
		if isSupervisor(cmdline(pid), dir) {
			out[pid] = true
		}
	}
	return out
}

func cmdline(pid int) [][]byte {
	argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return bytes.Split(bytes.TrimSuffix(argv, []byte{0}), []byte{0})
}

// isSupervisor reports whether argv is `EXE supervise ...` and, when dir is
// set, serves dir (`--dir DIR` or `--dir=DIR`).
func isSupervisor(argv [][]byte, dir string) bool {
	if len(argv) < 2 || string(argv[1]) != "supervise" {
		return false
	}
	if dir == "" {
		return true
	}
	want := filepath.Clean(dir)
	for j := 2; j < len(argv); j++ {
		a := string(argv[j])
		if a == "--dir" && j+1 < len(argv) && filepath.Clean(string(argv[j+1])) == want {
			return true
		}
		if v, ok := strings.CutPrefix(a, "--dir="); ok && filepath.Clean(v) == want {
			return true
		}
	}
	return false
}
