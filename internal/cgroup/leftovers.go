package cgroup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/internal/proctable"
)

// A conductor's subtree is named after its home and after itself:
// mzt-<home hash>-<pid>-<start ticks>. The home says whose sheets it holds
// (a crashed predecessor's, to be killed at the next start of that home);
// the process says whether its owner still lives, so that no conductor ever
// touches a live one's subtree, even when that one's PID file was deleted.

// owner is the conductor process a subtree belongs to; the start time tells
// a reused PID from the process that made the subtree.
type owner struct {
	pid   int
	start uint64
}

func currentOwner() (owner, error) {
	p, err := proctable.Read(os.Getpid())
	if err != nil {
		return owner{}, fmt.Errorf("read own start time: %w", err)
	}
	return owner{pid: p.PID, start: p.StartTicks}, nil
}

// alive: the process runs and is the one that made the subtree. A zombie
// (killed, not yet collected by its parent) has ended.
func (o owner) alive() bool {
	p, err := proctable.Read(o.pid)
	return err == nil && p.StartTicks == o.start && !zombie(o.pid)
}

func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(data), ')')
	state := strings.TrimSpace(string(data[i+1:]))
	return strings.HasPrefix(state, "Z") || strings.HasPrefix(state, "X")
}

func homeHash(home string) string {
	sum := sha256.Sum256([]byte(home))
	return hex.EncodeToString(sum[:6])
}

func subtreeName(home string, o owner) string {
	return fmt.Sprintf("mzt-%s-%d-%d", homeHash(home), o.pid, o.start)
}

// subtree is a sibling directory as its name describes it.
type subtree struct {
	home   string // home hash
	owner  owner
	legacy bool // mzt-<hash>, made by an older mzt: its owner is unknown
}

func parseSubtree(name string) (subtree, bool) {
	rest, ok := strings.CutPrefix(name, "mzt-")
	if !ok {
		return subtree{}, false
	}
	parts := strings.Split(rest, "-")
	switch len(parts) {
	case 1:
		return subtree{home: parts[0], legacy: true}, len(parts[0]) == 12
	case 3:
		pid, err1 := strconv.Atoi(parts[1])
		start, err2 := strconv.ParseUint(parts[2], 10, 64)
		if err1 != nil || err2 != nil || len(parts[0]) != 12 || pid <= 0 {
			return subtree{}, false
		}
		return subtree{home: parts[0], owner: owner{pid: pid, start: start}}, true
	}
	return subtree{}, false
}

// leftover is what a starting conductor does with a sibling subtree.
type leftover int

const (
	keepIt          leftover = iota // a live conductor's, or one we cannot judge
	killPredecessor                 // our home's, its owner dead: kill its sheets, remove it
	removeIfEmpty                   // another home's, its owner dead: remove it when no process is in it
)

// judge decides about sibling s for a conductor of home hash `home`. The
// caller holds its home's PID lock and found its socket silent, so a
// subtree of the same home whose owner is dead is a crashed predecessor's.
func judge(s subtree, home string, ownerAlive bool) leftover {
	switch {
	case s.legacy && s.home == home:
		return killPredecessor
	case s.legacy, ownerAlive:
		return keepIt
	case s.home == home:
		return killPredecessor
	default:
		// Its sheets (if any) are that home's to recover at its next start.
		return removeIfEmpty
	}
}

// cleanLeftovers applies judge to every mzt subtree beside ours (ours, when
// it already exists, is the caller's to take over).
func cleanLeftovers(parent, home, own string, keep map[int]bool) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		s, ok := parseSubtree(e.Name())
		if !e.IsDir() || !ok || e.Name() == own {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		switch judge(s, homeHash(home), !s.legacy && s.owner.alive()) {
		case killPredecessor:
			if !(&Tree{dir: dir}).killAllBut(keep) {
				removeDir(dir)
			}
		case removeIfEmpty:
			if !populated(dir) {
				removeEmptyTree(dir)
			}
		}
	}
}

// populated reads cgroup.events: "populated 1" while any process is in the
// cgroup or below it. Unreadable counts as populated (leave it alone).
func populated(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return strings.TrimSpace(v) != "0"
		}
	}
	return true
}

// removeEmptyTree removes an empty cgroup and its children, deepest first;
// the kernel refuses to remove one that holds a process.
func removeEmptyTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeEmptyTree(filepath.Join(dir, e.Name()))
		}
	}
	removeDir(dir)
}

// removeDir removes an emptied cgroup, waiting briefly for the kernel.
func removeDir(dir string) error {
	for i := 0; ; i++ {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) || i == 100 {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
