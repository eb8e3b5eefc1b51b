// Package pidfile owns the conductor's PID file: an exclusive flock held for the
// conductor's whole life, so that "is a conductor running?" has one answer no
// matter how many starts race, and a PID file left by a crash is recognised.
package pidfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked means another live process holds the PID file.
var ErrLocked = errors.New("pid file is locked")

// Lock is a held PID file.
type Lock struct {
	path string
	file *os.File
}

// Acquire creates (or opens) path without following symlinks, takes an
// exclusive non-blocking flock and writes our PID. stalePID is the PID a
// previous, dead owner left in the file (0 if none). When the lock is held by
// someone else it returns ErrLocked and the holder's PID.
func Acquire(path string) (lock *Lock, stalePID int, err error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if err != nil {
			if errors.Is(err, syscall.ELOOP) {
				return nil, 0, fmt.Errorf("refusing %s: it is a symlink", path)
			}
			return nil, 0, fmt.Errorf("open pid file: %w", err)
		}
		if err := lockWithPatience(f); err != nil {
			holder := readPID(f)
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, holder, ErrLocked
			}
			return nil, 0, fmt.Errorf("lock pid file: %w", err)
		}
		// Someone may have unlinked the file between our open and our flock
		// (a stop cleaning up a stale file): a lock on an unlinked inode
		// protects nothing, so start over on whatever the path is now.
		if !samePath(f, path) {
			f.Close()
			continue
		}
		stale := readPID(f)
		if err := writePID(f, os.Getpid()); err != nil {
			f.Close()
			return nil, 0, err
		}
		return &Lock{path: path, file: f}, stale, nil
	}
	return nil, 0, fmt.Errorf("lock pid file %s: it keeps being replaced", path)
}

// lockWithPatience retries a busy lock for a moment: a CLI probing the file
// with Inspect holds a shared lock for microseconds, and must not make a
// starting conductor believe another one is running.
func lockWithPatience(f *os.File) error {
	deadline := time.Now().Add(250 * time.Millisecond)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil || !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func samePath(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Lstat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate pid file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return f.Sync()
}

// Release removes the file while still holding the lock (so no one can take
// over a file we are about to unlink), then unlocks.
func (l *Lock) Release() error {
	if l == nil || l.file == nil {
		return nil
	}
	var err error
	if samePath(l.file, l.path) {
		err = os.Remove(l.path)
	}
	cerr := l.file.Close()
	l.file = nil
	return errors.Join(err, cerr)
}

// State is what a reader learns about a PID file without disturbing a live owner.
type State struct {
	Exists  bool
	Running bool // a process holds the lock
	PID     int  // the PID written in the file (0 if none or unreadable)
}

// Inspect reports whether a conductor holds path. It never blocks.
func Inspect(path string) (State, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return State{}, fmt.Errorf("refusing %s: it is a symlink", path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("open pid file: %w", err)
	}
	defer f.Close()
	st := State{Exists: true, PID: readPID(f)}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			st.Running = true
			return st, nil
		}
		return st, fmt.Errorf("probe pid file lock: %w", err)
	}
	return st, nil
}

// RemoveStale deletes path if no process holds it, returning the PID it named.
// It takes the lock first so it can never delete a live conductor's file.
func RemoveStale(path string) (removed bool, pid int, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("open pid file: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, readPID(f), ErrLocked
		}
		return false, 0, fmt.Errorf("lock pid file: %w", err)
	}
	pid = readPID(f)
	if !samePath(f, path) {
		return false, pid, nil
	}
	if err := os.Remove(path); err != nil {
		return false, pid, fmt.Errorf("remove stale pid file: %w", err)
	}
	return true, pid, nil
}
