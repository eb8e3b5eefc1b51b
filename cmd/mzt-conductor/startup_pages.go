package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseStartupPages takes out of this process's resident set the pages of
// its own executable that start-up touched: package initialisation, the
// argument parser, opening the database, building the actor tree. Each
// touch maps a 64 KiB window of the file (the kernel's fault-around), so
// start-up leaves most of the 40 MB binary mapped, about two thirds of an
// idle conductor's RSS, though an idle conductor runs little of it again.
// The pages stay in the page cache, shared with the supervisors run from
// the same file; what runs later maps them back at no disk cost. Only
// mappings that are clean copies of the file are released: a copy-on-write
// page (a relocated one, in a position-independent build) would be lost.
func releaseStartupPages() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	for _, m := range cleanFileMappings(smaps, exe) {
		// Nothing to do on failure: the pages simply stay.
		syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED)
	}
}

type mapping struct{ start, end uintptr }

// cleanFileMappings lists, from /proc/PID/smaps text, the read-only
// mappings of path that hold no anonymous (copy-on-write) page.
func cleanFileMappings(smaps []byte, path string) []mapping {
	var out []mapping
	var cur mapping
	candidate := false
	flush := func() {
		if candidate {
			out = append(out, cur)
		}
		candidate = false
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && !strings.HasSuffix(fields[0], ":") {
			// A mapping's header: "start-end perms offset dev inode path".
			flush()
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			candidate = err1 == nil && err2 == nil && len(fields) == 6 && fields[5] == path &&
				len(fields[1]) == 4 && fields[1][1] == '-' && fields[1][3] == 'p'
			cur = mapping{uintptr(start), uintptr(end)}
			continue
		}
		if fields[0] == "Anonymous:" && (len(fields) < 2 || fields[1] != "0") {
			candidate = false
		}
	}
	flush()
	return out
}
