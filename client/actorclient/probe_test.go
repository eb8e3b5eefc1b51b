package actorclient

import (
	"github.com/mzt-dev/mzt/client"

	"errors"
	"net"
	"testing"
	"time"
)

// A probe that failed because the conductor was down is tried again on the
// next request: a kept-open client recovers once the conductor is back.
func TestFailedProbeIsNotKept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the conductor is down

	n := &RemoteNode{timeout: 2 * time.Second, probes: map[string]*probe{}}
	first := n.probe(addr)
	<-first.done
	if !errors.Is(first.err, client.ErrUnreachable) {
		t.Fatalf("probe of a closed port: %v, want client.ErrUnreachable", first.err)
	}

	// The conductor comes back on the same address and answers HTTP/2.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}) // an empty SETTINGS frame
			c.Close()
		}
	}()
	second := n.probe(addr)
	<-second.done
	if second.err != nil {
		t.Fatalf("probe after the conductor came back: %v", second.err)
	}
	if third := n.probe(addr); third != second {
		t.Error("a successful probe is probed again; it should be kept")
	}
}
