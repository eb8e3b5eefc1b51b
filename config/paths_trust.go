package config

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// The home, clones/, instruments/ and every instrument profile decide what
// the conductor runs, so, like ssh's StrictModes, they are trusted only when
// they belong to the user running mzt (or to root) and nobody else can write
// them: otherwise another user who prepared /tmp/x/instruments/shell.toml
// would have their script run by whoever starts a conductor there.

// ownerProblem says why a file owned by uid may not be trusted by a process
// running as euid ("" when it may).
func ownerProblem(uid uint32, euid int) string {
	if int64(uid) == int64(euid) || uid == 0 {
		return ""
	}
	return fmt.Sprintf("it is owned by uid %d, not by you (uid %d)", uid, euid)
}

// trustProblem applies the whole rule to a file or directory (not a
// symlink): the right owner, and no write access for group or others.
func trustProblem(uid uint32, perm fs.FileMode, euid int) string {
	if p := ownerProblem(uid, euid); p != "" {
		return p
	}
	if perm&0o022 != 0 {
		return fmt.Sprintf("group or others can write it (mode %04o); chmod go-w it", perm.Perm())
	}
	return ""
}

// CheckTrusted returns an error when path may not be trusted: owned by
// another user, or writable by group or others. A symlink is followed when
// it belongs to the user (a home like ~/.marianne -> /data/marianne is
// common); its target must pass too.
func CheckTrusted(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	euid := os.Geteuid()
	if fi.Mode()&fs.ModeSymlink != 0 {
		if p := ownerProblem(fileUID(fi), euid); p != "" {
			return fmt.Errorf("refusing %s: %s (a symlink)", path, p)
		}
		if fi, err = os.Stat(path); err != nil {
			return fmt.Errorf("inspect %s: %w", path, err)
		}
	}
	if p := trustProblem(fileUID(fi), fi.Mode().Perm(), euid); p != "" {
		return fmt.Errorf("refusing %s: %s", path, p)
	}
	return nil
}

func fileUID(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0) // unknown: trusted by no one
}
