package pidfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func pidPath(t *testing.T) string { return filepath.Join(t.TempDir(), "conductor.pid") }

func acquire(t *testing.T, path string) (*Lock, int) {
	t.Helper()
	lock, stale, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	t.Cleanup(func() { lock.Release() })
	return lock, stale
}

func fileContent(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestAcquireWritesPIDAndExcludes(t *testing.T) {
	path := pidPath(t)
	_, stale := acquire(t, path)
	if stale != 0 {
		t.Errorf("fresh file: stale PID %d, want 0", stale)
	}
	if got, want := fileContent(t, path), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("PID file says %q, want %q", got, want)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("PID file mode %v, want 0600", fi.Mode().Perm())
	}

	// A second Acquire (another open file description: flock excludes it even
	// in the same process) is refused and names the holder.
	lock2, holder, err := Acquire(path)
	if !errors.Is(err, ErrLocked) {
		lock2.Release()
		t.Fatalf("second Acquire: %v, want ErrLocked", err)
	}
	if holder != os.Getpid() {
		t.Errorf("ErrLocked names holder %d, want %d", holder, os.Getpid())
	}
	if got := fileContent(t, path); got != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("refused Acquire changed the file to %q", got)
	}
}

func TestAcquireReportsStalePID(t *testing.T) {
	path := pidPath(t)
	if err := os.WriteFile(path, []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Inspect(path)
	if err != nil || st != (State{Exists: true, PID: 999999}) {
		t.Errorf("Inspect of a stale file = %+v, %v; want exists, not running, PID 999999", st, err)
	}
	_, stale := acquire(t, path)
	if stale != 999999 {
		t.Errorf("stale PID %d, want 999999", stale)
	}
	if got := fileContent(t, path); got != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("PID file now says %q, want our PID alone (no leftover digits)", got)
	}
}

func TestReleaseRemovesFile(t *testing.T) {
	path := pidPath(t)
	lock, _, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Inspect(path)
	if err != nil || st != (State{Exists: true, Running: true, PID: os.Getpid()}) {
		t.Errorf("Inspect while held = %+v, %v", st, err)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("PID file still there after Release: %v", err)
	}
	if err := lock.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if st, err := Inspect(path); err != nil || st != (State{}) {
		t.Errorf("Inspect after Release = %+v, %v; want nothing", st, err)
	}
	// Free again.
	_, stale := acquire(t, path)
	if stale != 0 {
		t.Errorf("stale PID %d after a clean release", stale)
	}
}

func TestReleaseLeavesSomeoneElsesFile(t *testing.T) {
	path := pidPath(t)
	lock, _, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	// Someone replaced the file under us (a stop cleaning up, then a new start).
	os.Remove(path)
	if err := os.WriteFile(path, []byte("12345\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	if got := fileContent(t, path); got != "12345\n" {
		t.Errorf("Release removed or changed a file that is not ours: %q", got)
	}
}

func TestSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "conductor.pid")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if lock, _, err := Acquire(path); err == nil || !strings.Contains(err.Error(), "symlink") {
		lock.Release()
		t.Errorf("Acquire through a symlink: %v, want refused", err)
	}
	if _, err := Inspect(path); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("Inspect through a symlink: %v, want refused", err)
	}
	if _, _, err := RemoveStale(path); err == nil {
		t.Error("RemoveStale through a symlink succeeded")
	}
	if got := fileContent(t, target); got != "precious" {
		t.Errorf("symlink target changed to %q", got)
	}
}

func TestRemoveStale(t *testing.T) {
	path := pidPath(t)
	if removed, pid, err := RemoveStale(path); removed || pid != 0 || err != nil {
		t.Errorf("RemoveStale of nothing = %v %d %v", removed, pid, err)
	}
	lock, _, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if removed, pid, err := RemoveStale(path); removed || !errors.Is(err, ErrLocked) || pid != os.Getpid() {
		t.Errorf("RemoveStale of a held file = %v %d %v, want ErrLocked naming us", removed, pid, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("held file removed: %v", err)
	}
	lock.Release()
	os.WriteFile(path, []byte("4242\n"), 0o600)
	if removed, pid, err := RemoveStale(path); !removed || pid != 4242 || err != nil {
		t.Errorf("RemoveStale of a stale file = %v %d %v, want removed 4242", removed, pid, err)
	}
}

// A CLI probing the file with Inspect while a conductor starts must never make
// that start fail.
func TestInspectNeverFailsAcquire(t *testing.T) {
	path := pidPath(t)
	deadline := time.Now().Add(time.Second)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	inspectErrs := make(chan error, 1)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := Inspect(path); err != nil {
					select {
					case inspectErrs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	acquires := 0
	for time.Now().Before(deadline) {
		lock, _, err := Acquire(path)
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("Acquire %d failed while Inspect ran: %v", acquires+1, err)
		}
		if err := lock.Release(); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("Release: %v", err)
		}
		acquires++
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-inspectErrs:
		t.Errorf("Inspect failed while Acquire ran: %v", err)
	default:
	}
	if acquires < 10 {
		t.Errorf("only %d acquisitions in the time given", acquires)
	}
}
