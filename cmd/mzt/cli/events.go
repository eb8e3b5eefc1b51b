package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// EventsCmd is `mzt events`.
type EventsCmd struct {
	Job    string `help:"Only this job's events." placeholder:"ID"`
	Follow bool   `short:"f" help:"Keep streaming new events until interrupted."`
	Limit  int    `help:"How many past events to show first (default 1000)." placeholder:"N"`
	JSON   bool   `name:"json" help:"One JSON object per line (NDJSON)."`
	// A follower that lost its connection resumes after the last seq it saw.
	AfterSeq  int64         `name:"after-seq" help:"Only events after this seq (every stored one, oldest first); resumes a follower." placeholder:"SEQ"`
	Reconnect time.Duration `help:"With --follow: how long to wait for a conductor that went away (0: give up at once)." default:"60s" placeholder:"DURATION"`
}

// eventJSON is one line of `mzt events --json`.
type eventJSON struct {
	Schema  string  `json:"schema"`
	Seq     int64   `json:"seq"`
	Time    *string `json:"time"`
	Kind    string  `json:"kind"`
	JobID   string  `json:"job_id,omitempty"`
	Sheet   int64   `json:"sheet,omitempty"`
	Attempt int64   `json:"attempt,omitempty"`
	Stage   string  `json:"stage,omitempty"`
	Status  string  `json:"status,omitempty"`
	Detail  string  `json:"detail,omitempty"`
}

func (c *EventsCmd) Run(g *Globals) error {
	enc := json.NewEncoder(g.env.Stdout)
	// lastSeq is the last event printed: a follower that lost the conductor
	// asks for the events after it, so none is missed or printed twice.
	lastSeq := c.AfterSeq
	rc := g.reconnector(c.Reconnect)
	stream := func() error {
		conn, err := g.dial()
		if err != nil {
			return err
		}
		rc.markReached()
		defer conn.Close()
		err = conn.Stream(g.ctx, &messages.EventsRequest{JobId: c.Job, Follow: c.Follow, Limit: int64(c.Limit), AfterSeq: lastSeq},
			func(msg proto.Message) error {
				e, ok := msg.(*messages.Event)
				if !ok {
					return fmt.Errorf("unexpected %T in an event stream", msg)
				}
				if lastSeq > 0 && e.GetSeq() > 0 && e.GetSeq() <= lastSeq {
					return nil
				}
				if e.GetSeq() > 0 {
					lastSeq = e.GetSeq()
				}
				if c.JSON {
					return enc.Encode(eventJSON{Schema: schema, Seq: e.GetSeq(), Time: rfc3339(e.GetTimeUnixNano()),
						Kind: e.GetKind(), JobID: e.GetJobId(), Sheet: e.GetSheet(), Attempt: e.GetAttempt(),
						Stage: e.GetStage(), Status: e.GetStatus(), Detail: e.GetDetail()})
				}
				_, err := fmt.Fprintln(g.env.Stdout, eventLine(e))
				return err
			})
		if err == nil && c.Follow && g.ctx.Err() == nil {
			// A followed event stream never ends by itself (not even when its
			// job does): a conductor that is shutting down ended it.
			return fmt.Errorf("the conductor ended the event stream: %w", client.ErrConnectionLost)
		}
		return err
	}
	var err error
	if c.Follow {
		err = rc.run(g.ctx, stream)
	} else {
		err = stream()
	}
	if g.ctx.Err() != nil {
		return nil // interrupted while following: a normal end
	}
	return err
}

// eventLine is the one-line, human form of an event.
func eventLine(e *messages.Event) string {
	t := time.Unix(0, e.GetTimeUnixNano()).Local().Format("15:04:05.000")
	what := e.GetJobId()
	if e.GetSheet() > 0 {
		what += fmt.Sprintf(" sheet %d", e.GetSheet())
		if e.GetStage() != "" {
			what += " (" + e.GetStage() + ")"
		}
	}
	line := fmt.Sprintf("%s  %-12s %s", t, e.GetKind(), what)
	if e.GetStatus() != "" {
		line += "  " + e.GetStatus()
	}
	if e.GetDetail() != "" {
		line += "  " + oneLine(e.GetDetail(), 160)
	}
	return line
}
