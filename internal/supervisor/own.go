package supervisor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoSupervisor means the conductor runs without a supervisor (its own
// died and none could be started): tries run in the conductor's process.
var ErrNoSupervisor = errors.New("no supervisor")

// Own is the conductor's own supervisor, which can be replaced while the
// conductor runs (the old one died): every Client made by Client follows it.
type Own struct {
	cur atomic.Pointer[Client]
}

// Set makes c the supervisor tries start with (nil: none, tries run in the
// conductor).
func (o *Own) Set(c *Client) {
	if c != nil {
		cp := *c
		cp.own = nil
		c = &cp
	}
	o.cur.Store(c)
}

// Client returns a client that always speaks to the current supervisor.
func (o *Own) Client() *Client { return &Client{own: o} }

// Current is the supervisor c speaks to now: c itself, or the one its Own
// holds at this moment. A try must be followed through the supervisor that
// started it, so its caller pins this once per try.
func (c *Client) Current() (Client, error) {
	if c.own == nil {
		return *c, nil
	}
	if cur := c.own.cur.Load(); cur != nil {
		return *cur, nil
	}
	return Client{}, ErrNoSupervisor
}

// Attachment holds a supervisor alive for this conductor.
type Attachment struct {
	release func()
	lost    chan struct{}
	once    sync.Once
	done    chan struct{} // closed by Release
	err     atomic.Pointer[error]
}

// Release ends the attachment (the supervisor may then exit once idle).
func (a *Attachment) Release() {
	a.once.Do(func() {
		close(a.done)
		a.release()
	})
}

// Lost is closed when the supervisor went away while attached (it died);
// never after Release.
func (a *Attachment) Lost() <-chan struct{} { return a.lost }

// Err says why Lost closed when it was not the supervisor's end (nil: it was).
func (a *Attachment) Err() error {
	if e := a.err.Load(); e != nil {
		return *e
	}
	return nil
}

// AttachWatching is Attach, telling through Lost when the supervisor dies:
// the kernel closes its end of the connection.
func (c Client) AttachWatching(ctx context.Context) (*Attachment, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(dialTimeout))
	r := bufio.NewReader(conn)
	if _, err := exchange(conn, r, Request{V: c.V, Op: OpAttach, Gen: c.Gen}); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	a := &Attachment{release: func() { conn.Close() }, lost: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer func() {
			if p := recover(); p != nil { // reported as a loss, with the reason
				e := fmt.Errorf("watching the supervisor panicked: %v", p)
				a.err.Store(&e)
			}
			select {
			case <-a.done:
			default:
				close(a.lost)
			}
		}()
		_, _ = r.ReadByte() // the supervisor never writes again: this returns when it goes
	}()
	return a, nil
}
