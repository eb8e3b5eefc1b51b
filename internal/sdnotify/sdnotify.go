// Package sdnotify tells systemd about the conductor's state (sd_notify(3))
// by writing the datagram itself: one sendto on the socket NOTIFY_SOCKET
// names, no library.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Messages of the protocol the conductor sends.
const (
	Ready     = "READY=1"
	Reloading = "RELOADING=1"
	Stopping  = "STOPPING=1"
)

// Notify sends state to the service manager. Without NOTIFY_SOCKET (not
// under systemd, or not Type=notify) it does nothing and reports false.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:] // an abstract socket
	} else if !strings.HasPrefix(path, "/") {
		return false, fmt.Errorf("NOTIFY_SOCKET %q is neither a path nor an abstract name", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("connect to NOTIFY_SOCKET: %w", err)
	}
	defer conn.Close()
	n, err := conn.Write([]byte(state))
	if err == nil && n != len(state) {
		err = errors.New("short write")
	}
	if err != nil {
		return false, fmt.Errorf("notify systemd: %w", err)
	}
	return true, nil
}
