package cgroup

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fakeTree is a tree over plain files, with the controllers given.
func fakeTree(t *testing.T, ctl Controllers) *Tree {
	t.Helper()
	tree := &Tree{dir: t.TempDir()}
	tree.ctlOnce.Do(func() { tree.ctl = ctl })
	return tree
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return "<missing>"
	}
	return string(data)
}

func TestUsageIsWorkingSetPerTry(t *testing.T) {
	tree := fakeTree(t, Controllers{Memory: true, Pids: true})
	// 1,102 MB charged, of which 100 MB is inactive page cache.
	writeFiles(t, filepath.Join(tree.dir, "run.1_1_1"), map[string]string{
		"cgroup.procs":   "100\n101\n102\n",
		"memory.current": "1155530752\n",
		"memory.stat":    "anon 900000000\nfile 200000000\ninactive_file 104857600\nactive_file 1000\n",
	})
	// No memory controller here: only its processes are known.
	writeFiles(t, filepath.Join(tree.dir, "run.1_2_1"), map[string]string{"cgroup.procs": "200\n"})
	got, err := tree.Usage()
	if err != nil {
		t.Fatal(err)
	}
	want := []Usage{
		{Name: "run.1_1_1", Procs: []int{100, 101, 102}, MemoryBytes: 1155530752 - 104857600, HasMemory: true},
		{Name: "run.1_2_1", Procs: []int{200}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Usage() = %+v\nwant %+v", got, want)
	}
}

func TestNewSheetAppliesLimitsTheTreeCanEnforce(t *testing.T) {
	tests := []struct {
		name       string
		ctl        Controllers
		limits     Limits
		wantMemory string
		wantPids   string
		want       Limits
	}{
		{"both", Controllers{true, true}, Limits{512 << 20, 64}, "536870912", "64", Limits{512 << 20, 64}},
		{"unlimited", Controllers{true, true}, Limits{}, "<missing>", "<missing>", Limits{}},
		{"no controllers", Controllers{}, Limits{512 << 20, 64}, "<missing>", "<missing>", Limits{}},
		{"pids only", Controllers{Pids: true}, Limits{512 << 20, 64}, "<missing>", "64", Limits{Pids: 64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := fakeTree(t, tt.ctl)
			tree.SetSheetLimits(tt.limits)
			s, err := tree.NewSheet("try")
			if err != nil {
				t.Fatal(err)
			}
			defer s.fd.Close()
			if got := readFile(t, filepath.Join(s.dir, "memory.max")); got != tt.wantMemory {
				t.Errorf("memory.max = %q, want %q", got, tt.wantMemory)
			}
			if got := readFile(t, filepath.Join(s.dir, "pids.max")); got != tt.wantPids {
				t.Errorf("pids.max = %q, want %q", got, tt.wantPids)
			}
			if s.Limits() != tt.want {
				t.Errorf("Limits() = %+v, want %+v", s.Limits(), tt.want)
			}
		})
	}
}

func TestLimitHit(t *testing.T) {
	limits := Limits{MemoryBytes: 256 << 20, Pids: 32}
	tests := []struct {
		name   string
		files  map[string]string
		limits Limits
		want   string
	}{
		{"nothing", map[string]string{"memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n",
			"pids.events": "max 0\n"}, limits, ""},
		{"oom kill", map[string]string{"memory.events": "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\noom_group_kill 0\n"},
			limits, "exceeded max_sheet_memory_mb (256 MB): the kernel killed 1 of its processes"},
		{"forks refused", map[string]string{"pids.events": "max 4812\n"}, limits,
			"reached max_sheet_processes (32): 4812 forks were refused"},
		// Counted by a limit this try did not have (a parent's): not its limit.
		{"not ours", map[string]string{"memory.events": "oom_kill 2\n", "pids.events": "max 1\n"}, Limits{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			if got := limitHit(dir, tt.limits); got != tt.want {
				t.Errorf("limitHit = %q, want %q", got, tt.want)
			}
		})
	}
}
