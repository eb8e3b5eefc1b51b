package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for scripts that run the conductor on a small file system
// (testdata/script/store_full_disk.txtar): mount one, and fill it.
func init() {
	scriptCmds["tmpfs"] = cmdTmpfs
	scriptCmds["fill"] = cmdFill
}

// tmpfs DIR SIZE: mount a tmpfs of SIZE (mount(8) syntax, e.g. 4m) on DIR,
// creating DIR; it is unmounted when the script ends, after any conductor
// whose home is on it has been killed. Needs root: guard with [!root] skip.
func cmdTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tmpfs DIR SIZE")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+args[1]+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		ts.Fatalf("mount a tmpfs on %s: %v: %s", dir, err, bytes.TrimSpace(out))
	}
	home := ts.Getenv("MARIANNE_HOME")
	ts.Defer(func() {
		// A conductor left running keeps files open on the mount.
		var pids []int
		filepath.Walk(home, func(path string, fi os.FileInfo, err error) error {
			if err == nil && fi.Name() == "conductor.pid" {
				pids = append(pids, readPID(path))
			}
			return nil
		})
		stopAll(home)
		waitUntil(10*time.Second, func() bool {
			for _, pid := range pids {
				if alive(pid) {
					return false
				}
			}
			return true
		})
		if err := exec.Command("umount", dir).Run(); err != nil {
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

// fill FILE: write FILE until its file system has no byte left (ENOSPC).
func cmdFill(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fill FILE")
	}
	path := ts.MkAbs(args[0])
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	ts.Check(err)
	defer f.Close()
	for _, chunk := range []int{1 << 20, 64 << 10, 4 << 10, 512, 1} {
		buf := bytes.Repeat([]byte{'x'}, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					ts.Fatalf("fill %s: %v, want ENOSPC", path, err)
				}
				break
			}
		}
	}
	var st syscall.Statfs_t
	ts.Check(syscall.Statfs(filepath.Dir(path), &st))
	if st.Bavail != 0 {
		ts.Fatalf("fill %s: %d blocks still free", path, st.Bavail)
	}
	fi, err := f.Stat()
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "filled %d bytes\n", fi.Size())
}
