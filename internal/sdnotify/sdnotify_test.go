package sdnotify

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifyPathSocket(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notify")
	c := listen(t, p)
	t.Setenv("NOTIFY_SOCKET", p)
	if sent, err := Notify(Ready); !sent || err != nil {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	if got := receive(t, c); got != "READY=1" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := "mzt-test-notify-" + time.Now().Format("150405.000000000")
	c := listen(t, "@"+name)
	t.Setenv("NOTIFY_SOCKET", "@"+name)
	if sent, err := Notify(Stopping); !sent || err != nil {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	if got := receive(t, c); got != "STOPPING=1" {
		t.Fatalf("got %q", got)
	}
}

func TestNotifyWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Notify(Ready); sent || err != nil {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative")
	if _, err := Notify(Ready); err == nil {
		t.Fatal("a relative NOTIFY_SOCKET was accepted")
	}
}
