package pidfile

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// Alive reports whether pid names a live process. A zombie counts as dead:
// it has exited and only waits for its parent to collect its status.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which may itself hold ") ".
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return true
	}
	state := strings.TrimSpace(string(data[i+1:]))
	return !strings.HasPrefix(state, "Z") && !strings.HasPrefix(state, "X")
}
