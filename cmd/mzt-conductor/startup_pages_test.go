package main

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const sampleSmaps = `00400000-00401000 r--p 00000000 fe:00 12 /opt/mzt/mzt-conductor
Size:                  4 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
00401000-011a9000 r-xp 00001000 fe:00 12 /opt/mzt/mzt-conductor
Size:              14000 kB
Rss:               12000 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
011a9000-020c2000 r--p 00da9000 fe:00 12 /opt/mzt/mzt-conductor
Anonymous:             8 kB
020c2000-02100000 rw-p 01cc2000 fe:00 12 /opt/mzt/mzt-conductor
Anonymous:             0 kB
02100000-02200000 r--p 00000000 fe:00 13 /opt/mzt/mzt-conductor (deleted)
Anonymous:             0 kB
7f0000000000-7f0000100000 r-xp 00000000 fe:00 14 /usr/lib/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Anonymous:          1024 kB
7ffff000-7ffff100 r--p 00000000 fe:00 12 /opt/mzt/mzt-conductor
Anonymous:             0 kB
`

// Only read-only, private, clean mappings of the executable itself are
// released: not its writable data, not a mapping with copy-on-write pages,
// not an older binary replaced on disk, not a library.
func TestCleanFileMappings(t *testing.T) {
	got := cleanFileMappings([]byte(sampleSmaps), "/opt/mzt/mzt-conductor")
	want := []mapping{{0x400000, 0x401000}, {0x401000, 0x11a9000}, {0x7ffff000, 0x7ffff100}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func fileRSS(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssFile:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// Releasing this test binary's own pages lowers its resident file pages,
// and the code goes on running (the pages come back from the page cache).
func TestReleaseStartupPagesKeepsRunning(t *testing.T) {
	before := fileRSS(t)
	releaseStartupPages()
	after := fileRSS(t)
	if after >= before {
		t.Fatalf("RssFile %d kB after releasing, %d kB before", after, before)
	}
	// Code and read-only data that were resident before still work.
	if s := strings.Repeat("ok", 3); s != "okokok" || !reflect.DeepEqual([]int{1}, []int{1}) {
		t.Fatal(s)
	}
	t.Logf("RssFile %d kB -> %d kB", before, after)
}
