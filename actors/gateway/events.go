package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

const (
	// defaultEventHistory is how many past events `mzt events` shows first.
	defaultEventHistory = 1000
	// followBuffer bounds what waits for one slow follower; beyond it events
	// are dropped for that follower (and it is told how many).
	followBuffer = 1024
)

// streamEvents sends the newest events (of one job, or all), then with follow
// every new one until the client leaves or the conductor stops. A follower is
// subscribed before the history is read, so nothing falls between the two.
func (d *dispatcher) streamEvents(ctx context.Context, req *messages.EventsRequest, send func(proto.Message) error) error {
	if d.deps.Events == nil {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "", "this conductor keeps no events")
	}
	jobID := req.GetJobId()
	if jobID != "" {
		if _, err := d.Ask(d.deps.Jobs, &messages.JobStatusRequest{JobId: jobID}); err != nil {
			return err
		}
	}
	limit := int(req.GetLimit())
	if limit <= 0 {
		limit = defaultEventHistory
	}
	f := d.deps.Events.Follow(jobID, followBuffer)
	defer f.Close()
	// What happened up to now is stored before it is read: a reader sees
	// the latest events at once, and only stored ones.
	d.deps.Events.Flush()

	var last int64
	if after := req.GetAfterSeq(); after > 0 {
		var err error
		if last, err = d.sendEventsAfter(ctx, jobID, after, send); err != nil {
			return err
		}
	} else {
		history, err := d.eventHistory(ctx, jobID, limit)
		if err != nil {
			return err
		}
		for _, e := range history {
			if err := send(e); err != nil {
				return err
			}
			last = e.GetSeq()
		}
	}
	if !req.GetFollow() {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.Done():
			return nil
		case e := <-f.C():
			if n := f.TakeDropped(); n > 0 {
				gap := &messages.Event{TimeUnixNano: time.Now().UnixNano(), Kind: string(messages.EventEventsDropped), JobId: jobID,
					Detail: fmt.Sprintf("%d events were dropped because this client read too slowly", n)}
				if err := send(gap); err != nil {
					return err
				}
			}
			if e.GetSeq() <= last {
				continue // already sent with the history
			}
			last = e.GetSeq()
			if err := send(e); err != nil {
				return err
			}
		}
	}
}

// eventHistory is the newest limit events, from memory and, when memory does
// not reach back far enough, from state.db.
func (d *dispatcher) eventHistory(ctx context.Context, jobID string, limit int) ([]*messages.Event, error) {
	recent, before := d.deps.Events.History(jobID, limit)
	if before == 0 || d.deps.DB == nil {
		return recent, nil
	}
	older, err := d.deps.DB.Events(ctx, jobID, before, limit-len(recent))
	if err != nil {
		return nil, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read past events: %v", err)
	}
	return append(older, recent...), nil
}

// catchUpPage is how many stored events one read of a resuming follower's
// catch-up holds in memory.
const catchUpPage = 500

// sendEventsAfter sends every stored event above after, oldest first, page
// by page, and returns the last seq sent (after when there was none). Only
// stored events reach a follower, so state.db holds all a resume needs.
func (d *dispatcher) sendEventsAfter(ctx context.Context, jobID string, after int64, send func(proto.Message) error) (int64, error) {
	if d.deps.DB == nil {
		return after, messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "", "this conductor keeps no past events")
	}
	last := after
	for {
		page, err := d.deps.DB.EventsAfter(ctx, jobID, last, catchUpPage)
		if err != nil {
			return last, messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read past events: %v", err)
		}
		for _, e := range page {
			if err := send(e); err != nil {
				return last, err
			}
			last = e.GetSeq()
		}
		if len(page) < catchUpPage {
			return last, nil
		}
	}
}
