package monitor

import (
	"os"
	"os/exec"
	"testing"

	"github.com/mzt-dev/mzt/internal/cgroup"
	"github.com/mzt-dev/mzt/internal/proctable"
)

// TestSharedPagesCountOnce: one process touches 64 MB, then forks eight
// children that share those pages. Summing RSS would see 9 x 64 MB; the
// sample must see about 64 MB.
func TestSharedPagesCountOnce(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 to fork a process tree with shared pages")
	}
	before, err := TakeSample(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	const mb64 = 64 << 20
	cmd := startTree(t, "python3", "-c", `
import os, time
b = bytearray(64 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
for _ in range(8):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
time.sleep(60)
`)
	var naive uint64
	after := sampleUntil(t, "the forked tree of nine", func(s Sample) bool {
		table, err := proctable.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		naive = 0
		tree := table.Tree(cmd.Process.Pid, cmd.Process.Pid)
		for _, pid := range tree {
			naive += table.Procs[pid].RSSBytes
		}
		// Wait until the tree is whole and measured: on a loaded machine a
		// child's smaps can be read before its pages are mapped in.
		return len(tree) == 9 && naive > 8*mb64 && int64(s.SheetBytes)-int64(before.SheetBytes) >= mb64/2
	})
	grew := int64(after.SheetBytes) - int64(before.SheetBytes)
	t.Logf("64 MB shared by nine processes: counted %d MB (%s); summed RSS %d MB", grew>>20, after.Accounting, naive>>20)
	if grew > 2*mb64 {
		t.Errorf("sheet memory grew by %d MB for 64 MB shared by nine processes (RSS sum %d MB; accounting %s)",
			grew>>20, naive>>20, after.Accounting)
	}
	if grew < mb64/2 {
		t.Errorf("sheet memory grew by only %d MB: the 64 MB are not counted at all", grew>>20)
	}
}

// TestCgroupAccountingPerTry: a try's cgroup is measured by its working set
// (one figure for all its processes); a child of the conductor outside any
// cgroup is its own unit, measured from /proc.
func TestCgroupAccountingPerTry(t *testing.T) {
	inCgroup := startTree(t, "sh", "-c", "sleep 60 & sleep 60 & wait")
	outside := startTree(t, "sleep", "60")
	var cgProcs []int
	sampleUntil(t, "the cgroup's three processes", func(Sample) bool {
		table, err := proctable.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		cgProcs = table.Tree(inCgroup.Process.Pid, inCgroup.Process.Pid)
		return len(cgProcs) == 3
	})
	usage := func() ([]cgroup.Usage, error) {
		return []cgroup.Usage{
			{Name: "try", Procs: cgProcs, MemoryBytes: 1102 << 20, HasMemory: true},
			{Name: "empty"},
		}, nil
	}
	pss := func(int) (uint64, bool) { return 1 << 20, true }
	s, err := takeSample(os.Getpid(), usage, pss, "")
	if err != nil {
		t.Fatal(err)
	}
	byLeader := map[int]Unit{}
	for _, u := range s.Units {
		byLeader[u.Leader] = u
	}
	if u := byLeader[inCgroup.Process.Pid]; u.MemoryBytes != 1102<<20 || u.Processes != 3 {
		t.Errorf("the cgroup's unit is %+v, want leader %d with 1102 MB and 3 processes", u, inCgroup.Process.Pid)
	}
	if u := byLeader[outside.Process.Pid]; u.MemoryBytes != 1<<20 || u.Processes != 1 {
		t.Errorf("the process outside cgroups is %+v, want its own unit of 1 MB and 1 process", u)
	}
	if s.Accounting != "cgroup" {
		t.Errorf("accounting %q, want cgroup", s.Accounting)
	}
	var mem uint64
	procs := 0
	for _, u := range s.Units {
		mem += u.MemoryBytes
		procs += u.Processes
	}
	if s.SheetBytes != mem || s.Processes != procs || s.ConductorBytes != 1<<20 {
		t.Errorf("totals %d bytes / %d processes / conductor %d, want the units' sums %d / %d and 1 MB",
			s.SheetBytes, s.Processes, s.ConductorBytes, mem, procs)
	}
}

func TestParsePSS(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"00400000-7ffd [rollup]\nRss:               10240 kB\nPss:                2048 kB\nPss_Anon: 1 kB\n", 2048 << 10, true},
		{"Rss: 10 kB\n", 0, false},
		{"Pss: lots kB\n", 0, false},
		{"Pss: 12 MB\n", 0, false},
	}
	for _, tt := range tests {
		got, ok := parsePSS([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parsePSS(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// Which processes are supervisors whose tries count: any `supervise` child
// of the conductor; through a socket of the home, only one serving it.
func TestIsSupervisor(t *testing.T) {
	argv := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, a := range s {
			out[i] = []byte(a)
		}
		return out
	}
	cases := []struct {
		name string
		argv [][]byte
		dir  string
		want bool
	}{
		{"a child, any folder", argv("/usr/bin/mzt-conductor", "supervise", "--dir", "/h/supervisors"), "", true},
		{"the home's", argv("mzt", "supervise", "--dir", "/h/supervisors", "--version", "1"), "/h/supervisors", true},
		{"the home's, = form, unclean", argv("mzt", "supervise", "--dir=/h//supervisors/"), "/h/supervisors", true},
		{"another home's", argv("mzt", "supervise", "--dir", "/other/supervisors"), "/h/supervisors", false},
		{"a reused pid", argv("/bin/sleep", "60"), "/h/supervisors", false},
		{"the folder named elsewhere", argv("mzt", "supervise", "--version", "/h/supervisors"), "/h/supervisors", false},
		{"--dir without a value", argv("mzt", "supervise", "--dir"), "/h/supervisors", false},
		{"nothing", nil, "", false},
	}
	for _, c := range cases {
		if got := isSupervisor(c.argv, c.dir); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
