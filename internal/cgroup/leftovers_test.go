package cgroup

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

func TestParseSubtree(t *testing.T) {
	for _, tc := range []struct {
		name string
		want subtree
		ok   bool
	}{
		{"mzt-0123456789ab-42-9000", subtree{home: "0123456789ab", owner: owner{pid: 42, start: 9000}}, true},
		{"mzt-0123456789ab", subtree{home: "0123456789ab", legacy: true}, true},
		{"mzt-0123456789ab-42", subtree{}, false},
		{"mzt-0123456789ab-x-9000", subtree{}, false},
		{"mzt-0123456789ab-0-9000", subtree{}, false},
		{"mzt-short-42-9000", subtree{}, false},
		{"system.slice", subtree{}, false},
	} {
		got, ok := parseSubtree(tc.name)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseSubtree(%q) = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestJudge is the rule for a sibling subtree found at start.
func TestJudge(t *testing.T) {
	const mine, other = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
	dead := owner{pid: 7, start: 1}
	for _, tc := range []struct {
		name  string
		s     subtree
		alive bool
		want  leftover
	}{
		{"a live conductor of this home (its PID file deleted)", subtree{home: mine, owner: dead}, true, keepIt},
		{"a live conductor of another home", subtree{home: other, owner: dead}, true, keepIt},
		{"a crashed predecessor of this home", subtree{home: mine, owner: dead}, false, killPredecessor},
		{"a dead conductor of another home", subtree{home: other, owner: dead}, false, removeIfEmpty},
		{"an older mzt's subtree of this home", subtree{home: mine, legacy: true}, false, killPredecessor},
		{"an older mzt's subtree of another home: owner unknown", subtree{home: other, legacy: true}, false, keepIt},
	} {
		if got := judge(tc.s, mine, tc.alive); got != tc.want {
			t.Errorf("%s: judge = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNewRemovesDeadEmptySubtrees: a subtree of a dead conductor of another
// home is removed when empty; a live conductor's is kept, empty or not.
func TestNewRemovesDeadEmptySubtrees(t *testing.T) {
	probe, err := New(t.TempDir())
	if err != nil {
		t.Skipf("no usable cgroup v2 here: %v", err)
	}
	parent := filepath.Dir(probe.Dir())
	probe.Close()

	me, err := currentOwner()
	if err != nil {
		t.Fatal(err)
	}
	reused := owner{pid: me.pid, start: me.start + 1} // our PID, another process's start: dead
	deadDir := filepath.Join(parent, subtreeName(t.TempDir(), reused))
	liveDir := filepath.Join(parent, subtreeName(t.TempDir(), me))
	for _, dir := range []string{deadDir, liveDir} {
		if err := os.MkdirAll(filepath.Join(dir, "sheet-1"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	defer removeEmptyTree(liveDir)
	defer removeEmptyTree(deadDir)
	// A dead conductor's subtree with a process still in it is its home's to
	// recover: kept.
	busyDir := filepath.Join(parent, subtreeName(t.TempDir(), reused))
	busy := &Tree{dir: busyDir}
	os.Mkdir(busyDir, 0o755)
	sheet, err := busy.NewSheet("sheet-1")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: sheet.FD()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sheet.Kill(); cmd.Wait(); removeEmptyTree(busyDir) }()

	tree, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Close()
	if _, err := os.Stat(deadDir); !os.IsNotExist(err) {
		t.Errorf("the dead conductor's empty subtree is still there (%v)", err)
	}
	if len(sheet.Procs()) != 1 {
		t.Errorf("the dead conductor's busy subtree was touched: %v", sheet.Procs())
	}
	if _, err := os.Stat(filepath.Join(liveDir, "sheet-1")); err != nil {
		t.Errorf("the live conductor's subtree was touched: %v", err)
	}
}
