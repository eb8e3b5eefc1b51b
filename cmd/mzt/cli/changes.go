package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// changeFeed tells a follower (run --wait, status --watch) when to fetch a
// status again: when the conductor published an event about the job (or
// about any job), instead of every tick. It follows the event stream on a
// connection of its own.
type changeFeed struct {
	changed chan struct{} // one pending signal; more events fold into it
	ended   chan struct{} // closed when the stream ended, err saying why
	err     error         // nil when close ended it
	stop    context.CancelFunc
}

// followChanges starts a feed of the events of job (every job when "").
// The stream's history holds the job's latest event: whatever changed
// between a status read just before and the subscription is signalled too.
func (g *Globals) followChanges(job string) (*changeFeed, error) {
	conn, err := g.dial()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(g.ctx)
	f := &changeFeed{changed: make(chan struct{}, 1), ended: make(chan struct{}), stop: cancel}
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("follow the events of %q: panic: %v", job, r)
			}
			conn.Close()
			f.err = err
			close(f.ended)
		}()
		err = conn.Stream(ctx, &messages.EventsRequest{JobId: job, Follow: true, Limit: 1}, func(proto.Message) error {
			select {
			case f.changed <- struct{}{}:
			default: // a fetch is already due
			}
			return nil
		})
		switch {
		case ctx.Err() != nil:
			err = nil
		case err == nil:
			// A followed stream never ends by itself: the conductor is stopping.
			err = fmt.Errorf("the conductor ended the event stream: %w", client.ErrConnectionLost)
		}
	}()
	return f, nil
}

// close ends the feed and waits for its goroutine.
func (f *changeFeed) close() {
	f.stop()
	<-f.ended
}

// why is the reason the stream ended; call it once ended is closed.
func (f *changeFeed) why() error { return f.err }

// noEvents reports whether err means the conductor serves no event stream
// (an older conductor): the follower then reads the status every tick.
func noEvents(err error) bool {
	var re *client.RemoteError
	return errors.As(err, &re) && re.Code == messages.ErrorCode_ERROR_CODE_UNSUPPORTED
}

// pacer spaces the fetches a feed asks for: at most one per gap, so a job
// whose sheets change constantly costs no more than the former polling did
// and an idle one costs nothing.
type pacer struct {
	gap  time.Duration
	last time.Time
}

// wait is how long to hold a fetch that is due at now.
func (p *pacer) wait(now time.Time) time.Duration {
	if p.last.IsZero() {
		return 0
	}
	return max(0, p.gap-now.Sub(p.last))
}

// fetched records a fetch at now.
func (p *pacer) fetched(now time.Time) { p.last = now }
