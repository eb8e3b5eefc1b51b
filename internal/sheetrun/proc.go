package sheetrun

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"unicode/utf8"
)

// statFields returns the fields of /proc/PID/stat that follow the command name, so that
// fields[0] is field 3 (state). comm is wrapped in parentheses and may itself contain spaces
// and parentheses, so the split is on the LAST ')'.
func statFields(pid int) ([][]byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return bytes.Fields(b[i+1:]), nil
}

// ProcStartTicks returns the start time of process pid in clock ticks since boot (field 22 of
// /proc/PID/stat). With the pid it identifies a process across pid reuse.
func ProcStartTicks(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	const starttime = 22 - 3
	if len(f) <= starttime {
		return 0, fmt.Errorf("malformed /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(string(f[starttime]), 10, 64)
}

// groupAlive reports whether any process of group pgid is still running. Zombies do not count:
// they hold no resources and, once orphaned, are reaped by whoever adopted them, which may take
// a while (or forever, under a careless init), yet signals to the group still "succeed" on them.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	d, err := os.Open("/proc")
	if err != nil {
		return true // cannot tell; kill said someone is there
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return true
	}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		f, err := statFields(pid)
		if err != nil || len(f) < 3 {
			continue // exited meanwhile
		}
		const state, pgrp = 0, 5 - 3
		if string(f[pgrp]) == strconv.Itoa(pgid) && string(f[state]) != "Z" && string(f[state]) != "X" {
			return true
		}
	}
	return false
}

// readTail returns at most n trailing bytes of the file at path, starting on a UTF-8 boundary.
// Missing or unreadable files give "": a tail is a diagnostic, not worth failing over.
func readTail(path string, n int64) string {
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := tailBytes(f, n)
	if err != nil {
		return ""
	}
	return string(trimPartialRune(b))
}

func tailBytes(f *os.File, n int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	k, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:k], nil
}

// trimPartialRune drops continuation bytes a byte-offset cut left at the start.
func trimPartialRune(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && i < len(b); i++ {
		if utf8.RuneStart(b[i]) {
			return b[i:]
		}
	}
	return b
}

// Tail returns the last n bytes of the file at path ("" if unreadable),
// reading only those bytes.
func Tail(path string, n int64) string { return readTail(path, n) }
