package gateway

import (
	"net"
	"sync"
)

// apiMaxConns bounds the Conductor service's open connections per listener:
// each costs a goroutine and buffers, and a peer must not be able to open
// them without end.
const apiMaxConns = 256

// capListener closes a connection at once when max are already open, so a
// flood costs an accept and a close, never a goroutine that waits.
type capListener struct {
	net.Listener
	mu   sync.Mutex
	open int
	max  int
}

func newCapListener(ln net.Listener, max int) *capListener {
	return &capListener{Listener: ln, max: max}
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.open >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open++
		l.mu.Unlock()
		return &cappedConn{Conn: c, l: l}, nil
	}
}

type cappedConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

func (c *cappedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
