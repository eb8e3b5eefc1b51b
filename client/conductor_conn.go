package client

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

var _ Conn = (*Conductor)(nil)

// Request sends one request of the socket protocol through the service:
// code written against Conn (the CLI's commands) works over it unchanged.
func (c *Conductor) Request(ctx context.Context, req proto.Message) (proto.Message, error) {
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	reply, err := c.unary(ctx, req)
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	return reply, nil
}

func (c *Conductor) unary(ctx context.Context, req proto.Message) (proto.Message, error) {
	switch r := req.(type) {
	case *messages.HealthRequest:
		return replyOf(c.rpc.Health(ctx, connect.NewRequest(r)))
	case *messages.ConductorStatusRequest:
		return replyOf(c.rpc.Status(ctx, connect.NewRequest(r)))
	case *messages.ShutdownRequest:
		return replyOf(c.rpc.Shutdown(ctx, connect.NewRequest(r)))
	case *messages.SubmitJobRequest:
		return replyOf(c.rpc.Submit(ctx, connect.NewRequest(r)))
	case *messages.JobStatusRequest:
		return replyOf(c.rpc.Job(ctx, connect.NewRequest(r)))
	case *messages.ListJobsRequest:
		return replyOf(c.rpc.List(ctx, connect.NewRequest(r)))
	case *messages.JobControlRequest:
		return replyOf(c.rpc.Control(ctx, connect.NewRequest(r)))
	case *messages.InsightsRequest:
		return replyOf(c.rpc.Insights(ctx, connect.NewRequest(r)))
	case *messages.TopRequest:
		return replyOf(c.rpc.Top(ctx, connect.NewRequest(r)))
	case *messages.FleetListRequest:
		return replyOf(c.rpc.FleetList(ctx, connect.NewRequest(r)))
	case *messages.FleetStatusRequest:
		return replyOf(c.rpc.FleetStatus(ctx, connect.NewRequest(r)))
	case *messages.FleetTopRequest:
		return replyOf(c.rpc.FleetTop(ctx, connect.NewRequest(r)))
	}
	return nil, fmt.Errorf("%w: %T has no unary RPC in the Conductor service", ErrUnsupported, req)
}

func replyOf[T any, P interface {
	*T
	proto.Message
}](res *connect.Response[T], err error) (proto.Message, error) {
	if err != nil {
		return nil, err
	}
	return P(res.Msg), nil
}

// Stream sends a streaming request (logs, events) and calls fn for each item
// until the stream ends, fn fails or ctx ends; a unary request's reply is
// its one item.
func (c *Conductor) Stream(ctx context.Context, req proto.Message, fn func(proto.Message) error) error {
	switch r := req.(type) {
	case *messages.LogsRequest:
		s, err := c.rpc.Logs(ctx, connect.NewRequest(r))
		if err != nil {
			return c.fail(ctx, err)
		}
		return c.drain(ctx, s.Receive, func() proto.Message { return s.Msg() }, s.Err, s.Close, fn)
	case *messages.EventsRequest:
		s, err := c.rpc.Events(ctx, connect.NewRequest(r))
		if err != nil {
			return c.fail(ctx, err)
		}
		return c.drain(ctx, s.Receive, func() proto.Message { return s.Msg() }, s.Err, s.Close, fn)
	}
	reply, err := c.Request(ctx, req)
	if err != nil {
		return err
	}
	return fn(reply)
}

func (c *Conductor) drain(ctx context.Context, receive func() bool, msg func() proto.Message, errOf func() error,
	closeFn func() error, fn func(proto.Message) error) error {
	defer closeFn()
	for receive() {
		if err := fn(msg()); err != nil {
			return err
		}
	}
	err := c.fail(ctx, errOf())
	var lost *connLost
	if errors.As(err, &lost) {
		// The stream was open: the conductor went away in the middle of it.
		return &connLost{msg: fmt.Sprintf("lost the connection to the conductor at %s", c.where), cause: err}
	}
	return err
}
