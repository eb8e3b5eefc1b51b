package gateway

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Listen creates the conductor's socket with the hygiene users rely on: a
// symlink or a non-socket in its place is refused; a socket that answers means
// another conductor; a silent one is stale and removed; the result is 0600.
func Listen(path string) (*net.UnixListener, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		return nil, fmt.Errorf("refusing socket path %s: it is a symlink", path)
	case err == nil && fi.Mode()&os.ModeSocket == 0:
		return nil, fmt.Errorf("refusing socket path %s: it exists and is not a socket", path)
	case err == nil:
		if c, derr := net.DialTimeout("unix", path, 200*time.Millisecond); derr == nil {
			c.Close()
			return nil, fmt.Errorf("socket %s is served by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("inspect socket path %s: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// We remove the file ourselves on close, after checking it is still ours.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict socket %s to 0600: %w", path, err)
	}
	return ln, nil
}

// PeerUID returns the uid of the process at the other end of conn.
func PeerUID(conn *net.UnixConn) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return -1, fmt.Errorf("peer credentials: %w", credErr)
	}
	return int(cred.Uid), nil
}

// CheckPeer is the SO_PEERCRED rule: only our own uid may talk to us.
func CheckPeer(peerUID, ownUID int) error {
	if peerUID != ownUID {
		return fmt.Errorf("connection from uid %d refused: this conductor serves uid %d only", peerUID, ownUID)
	}
	return nil
}
