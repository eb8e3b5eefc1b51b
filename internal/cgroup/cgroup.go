// Package cgroup gives each sheet a cgroup v2 of its own where the machine
// lets the conductor create one: a process can leave a process group with
// setsid, but not its cgroup, so "kill the sheet" becomes exact. Where no
// writable cgroup v2 hierarchy exists, New says why and the conductor falls
// back to process groups, the subreaper and sheet tokens.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Tree is the conductor's own subtree: one child cgroup per running try.
type Tree struct {
	dir string

	mu      sync.Mutex
	pending []string // emptied cgroups the kernel did not let us remove yet
	limits  Limits   // what each new try's cgroup gets (resources.go)

	ctlOnce sync.Once
	ctl     Controllers
}

// New finds the cgroup v2 hierarchy and creates the subtree of this
// conductor, whose home is home. Beside it, subtrees of dead conductors are
// cleaned up (see cleanLeftovers): a crashed predecessor of the same home
// has its sheets killed, an empty one of another home is removed; a live
// conductor's is never touched. It returns an error saying why when cgroups
// cannot be used.
func New(home string) (*Tree, error) { return NewKeeping(home, nil) }

// NewKeeping is New, except that a predecessor's sheet cgroup holding one
// of the pids in keep (a try adopted from a supervisor) is left alone.
func NewKeeping(home string, keep map[int]bool) (*Tree, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	me, err := currentOwner()
	if err != nil {
		return nil, err
	}
	parent := filepath.Join(mount, own)
	name := subtreeName(home, me)
	cleanLeftovers(parent, home, name, keep)
	dir := filepath.Join(parent, name)
	t := &Tree{dir: dir}
	if _, err := os.Stat(dir); err == nil {
		t.killAll() // ours already (New called again by this process): start empty
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	// Prove we can open a child and move nothing into it before relying on it.
	probe := filepath.Join(dir, "probe")
	if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create cgroup under %s: %w", dir, err)
	}
	os.Remove(probe)
	return t, nil
}

// Dir is the subtree's path.
func (t *Tree) Dir() string { return t.dir }

// Sheet is one try's cgroup.
type Sheet struct {
	tree   *Tree
	dir    string
	fd     *os.File
	limits Limits // as applied when it was made
}

// NewSheet creates the cgroup for one try; FD is what the child is cloned into.
func (t *Tree) NewSheet(name string) (*Sheet, error) {
	t.removePending()
	dir := filepath.Join(t.dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	fd, err := os.Open(dir)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	s := &Sheet{tree: t, dir: dir, fd: fd}
	s.applyLimits()
	return s, nil
}

// removePending retries the removal of emptied cgroups: right after its last
// process exits, the kernel may still hold a cgroup for a moment, and a sheet
// must not wait for that.
func (t *Tree) removePending() {
	t.mu.Lock()
	defer t.mu.Unlock()
	kept := t.pending[:0]
	for _, dir := range t.pending {
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			kept = append(kept, dir)
		}
	}
	t.pending = kept
}

// Dir is the cgroup's path (for a process that clones into it itself).
func (s *Sheet) Dir() string { return s.dir }

// FD is the directory descriptor for SysProcAttr.CgroupFD.
func (s *Sheet) FD() int { return int(s.fd.Fd()) }

// Procs lists the live processes in the cgroup.
func (s *Sheet) Procs() []int { return procs(s.dir) }

// Kill kills everything in the cgroup (cgroup.kill, else SIGKILL one by
// one), waits until it is empty, and removes it (later, if the kernel is
// not done with it yet).
func (s *Sheet) Kill() error {
	defer s.fd.Close()
	if err := empty(s.dir); err != nil {
		return err
	}
	if err := os.Remove(s.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.tree.mu.Lock()
		s.tree.pending = append(s.tree.pending, s.dir)
		s.tree.mu.Unlock()
	}
	return nil
}

// empty kills whatever runs in dir and waits until nothing does.
func empty(dir string) error {
	if len(procs(dir)) == 0 {
		return nil // the usual case: the try left nothing behind
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0o644); err != nil {
		for _, pid := range procs(dir) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(procs(dir)) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s still has processes after SIGKILL", dir)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// killDir empties dir and removes it, waiting for the kernel if it must.
func killDir(dir string) error {
	if err := empty(dir); err != nil {
		return err
	}
	return removeDir(dir)
}

// Terminate sends sig to every process in the cgroup (a graceful first step).
func (s *Sheet) Terminate(sig syscall.Signal) {
	for _, pid := range procs(s.dir) {
		syscall.Kill(pid, sig)
	}
}

// killAll empties every sheet cgroup of the tree (start-up cleanup, shutdown).
func (t *Tree) killAll() { t.killAllBut(nil) }

// killAllBut empties every sheet cgroup of the tree except those holding a
// pid in keep; it reports whether it kept any.
func (t *Tree) killAllBut(keep map[int]bool) (kept bool) {
	entries, _ := os.ReadDir(t.dir)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(t.dir, e.Name())
		if slices.ContainsFunc(procs(dir), func(pid int) bool { return keep[pid] }) {
			kept = true
			continue
		}
		killDir(dir)
	}
	return kept
}

// Close kills whatever is left and removes the subtree.
func (t *Tree) Close() error {
	t.removePending()
	t.killAll()
	return os.Remove(t.dir)
}

func procs(dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted (on hybrid
// systems that is not /sys/fs/cgroup itself).
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint ... - fstype source options
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(right, "cgroup2 ") {
			continue
		}
		fields := strings.Fields(left)
		if len(fields) >= 5 && fields[3] == "/" {
			return fields[4], nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted")
}

// ownCgroup is this process's cgroup v2 path ("0::/path").
func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("this process is in no cgroup v2")
}
