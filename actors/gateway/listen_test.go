package gateway

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shortDir is a private temporary directory with a path short enough for a socket.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListenRefusesSymlink(t *testing.T) {
	dir := shortDir(t)
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "conductor.sock")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen accepted a symlink")
	}
	if !strings.Contains(err.Error(), "symlink") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should name the path and say it is a symlink", err)
	}
	if data, err := os.ReadFile(target); err != nil || string(data) != "keep me" {
		t.Errorf("symlink target touched: %q, %v", data, err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink removed or replaced: %v", err)
	}
}

func TestListenRefusesRegularFile(t *testing.T) {
	path := filepath.Join(shortDir(t), "conductor.sock")
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen accepted a regular file")
	}
	if !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("error %q should say the path is not a socket", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "not a socket" {
		t.Error("the regular file was modified")
	}
}

func TestListenRemovesStaleSocketAndRestricts(t *testing.T) {
	path := filepath.Join(shortDir(t), "conductor.sock")
	// A crashed conductor leaves its socket file with nobody listening.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}

	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	// And it serves.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	c.Close()
}

func TestListenRefusesLiveSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "conductor.sock")
	live, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	go func() {
		for {
			c, err := live.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen took over a socket another process serves")
	}
	if !strings.Contains(err.Error(), "another process") {
		t.Errorf("error %q should say another process serves the socket", err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the live socket stopped working: %v", err)
	}
	c.Close()
}

func TestCheckPeer(t *testing.T) {
	if err := CheckPeer(1000, 1000); err != nil {
		t.Errorf("same uid refused: %v", err)
	}
	err := CheckPeer(0, 1000)
	if err == nil {
		t.Fatal("another uid (root) accepted")
	}
	if !strings.Contains(err.Error(), "uid 0") || !strings.Contains(err.Error(), "uid 1000") {
		t.Errorf("error %q should name both uids", err)
	}
	if CheckPeer(1001, 1000) == nil {
		t.Error("another uid accepted")
	}
}

func TestPeerUIDIsOurs(t *testing.T) {
	a, b, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	uid, err := PeerUID(a)
	if err != nil {
		t.Fatal(err)
	}
	if uid != os.Getuid() {
		t.Errorf("PeerUID = %d, want %d", uid, os.Getuid())
	}
}

func socketPair() (*net.UnixConn, *net.UnixConn, error) {
	dir, err := os.MkdirTemp("", "gwp")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unix"})
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	accepted := make(chan *net.UnixConn, 1)
	go func() {
		c, _ := ln.AcceptUnix()
		accepted <- c
	}()
	c, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
	if err != nil {
		return nil, nil, err
	}
	return <-accepted, c, nil
}
