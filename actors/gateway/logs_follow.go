package gateway

import (
	"context"
	"time"

	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// followAll streams the output of every sheet of a job as it grows, like
// `docker compose logs -f`: each chunk is tagged with its sheet's stage and
// voice (the CLI prefixes its lines), sheets are picked up as they start and
// followed across their retries, until the job ends or the client leaves.
func (d *dispatcher) followAll(ctx context.Context, req *messages.LogsRequest, plan *jobs.LogPlan,
	send func(proto.Message) error) error {
	type position struct {
		try    int
		offset int64
	}
	at := map[int]*position{}
	for {
		for _, s := range plan.Sheets {
			if s.Tries == 0 {
				continue
			}
			tag := func(m proto.Message) error {
				if c, ok := m.(*messages.LogChunk); ok {
					c.Stage, c.Voice = s.Stage, int64(s.Voice)
				}
				return send(m)
			}
			p := at[s.Num]
			if p == nil {
				p = &position{try: s.Tries}
				at[s.Num] = p
			}
			var err error
			if s.Tries > p.try {
				// A retry started: the rest of the old try, then the new one.
				if _, err = sendFile(ctx, pick(plan, s.Num, p.try, req), p.offset, s.Num, p.try, "", tag); err != nil {
					return err
				}
				p.try, p.offset = s.Tries, 0
			}
			if p.offset, err = sendFile(ctx, pick(plan, s.Num, p.try, req), p.offset, s.Num, p.try, "", tag); err != nil {
				return err
			}
		}
		// The plan was read before the files: once it says finished, what
		// was just sent is all there is.
		if plan.Finished {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followPoll):
		}
		var err error
		if plan, err = d.plan(req); err != nil {
			return err
		}
	}
}
