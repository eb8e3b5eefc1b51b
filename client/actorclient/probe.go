package actorclient

import "github.com/mzt-dev/mzt/client"

// probe is one check that a remote endpoint can be used, shared by the
// requests that start while it runs.
type probe struct {
	done chan struct{}
	err  error
}

func (n *RemoteNode) probe(addr string) *probe {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.probes[addr]; p != nil {
		select {
		case <-p.done:
			if p.err == nil {
				return p
			}
			// A failure is not kept: the conductor may be back by now, and
			// a long-lived client must see it without being restarted.
		default:
			return p // still running: requests beside it share its verdict
		}
	}
	p := &probe{done: make(chan struct{})}
	n.probes[addr] = p
	go func() {
		defer close(p.done)
		p.err = client.Probe(addr, n.tls, n.timeout)
	}()
	return p
}
