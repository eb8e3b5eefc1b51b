package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
	"google.golang.org/protobuf/proto"
)

// apiService serves the Conductor service through the socket's dispatcher:
// one router for both, so an operation answers the same whichever way it
// came in.
type apiService struct {
	h   Handler
	log *slog.Logger
}

var _ messagesconnect.ConductorHandler = apiService{}

type callerKey struct{}

// caller is who sent a request: certs.RoleFull for the conductor's own uid
// on api.sock; over mutual TLS the certificate's role and name.
type caller struct{ role, peer string }

func withCaller(ctx context.Context, role, peer string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller{role: role, peer: peer})
}

func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c // role "" = no certificate: health and status only
}

func permit(ctx context.Context, req proto.Message, log *slog.Logger) error {
	if c := callerOf(ctx); !Permitted(c.role, req) {
		return connectError(refusal(c.role, c.peer, req, log))
	}
	return nil
}

// pointer is a generated message type's pointer.
type pointer[T any] interface {
	*T
	proto.Message
}

func unary[Res any, P pointer[Res]](ctx context.Context, s apiService, req proto.Message) (*connect.Response[Res], error) {
	if err := permit(ctx, req, s.log); err != nil {
		return nil, err
	}
	reply, err := s.h.Handle(ctx, req, nil)
	if err != nil {
		return nil, connectError(err)
	}
	typed, ok := reply.(P)
	if !ok {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("the conductor answered %T", reply))
	}
	return connect.NewResponse((*Res)(typed)), nil
}

func stream[Item any, P pointer[Item]](ctx context.Context, s apiService, req proto.Message, out *connect.ServerStream[Item]) error {
	if err := permit(ctx, req, s.log); err != nil {
		return err
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("api stream", "peer", callerOf(ctx).peer, "request", proto.MessageName(req), "args", fmt.Sprint(req))
	}
	_, err := s.h.Handle(ctx, req, func(m proto.Message) error {
		item, ok := m.(P)
		if !ok {
			return fmt.Errorf("a %T in a stream of %T", m, item)
		}
		return out.Send((*Item)(item))
	})
	if err != nil {
		return connectError(err)
	}
	return nil
}

func (s apiService) Health(ctx context.Context, r *connect.Request[messages.HealthRequest]) (*connect.Response[messages.HealthResponse], error) {
	return unary[messages.HealthResponse](ctx, s, r.Msg)
}

func (s apiService) Status(ctx context.Context, r *connect.Request[messages.ConductorStatusRequest]) (*connect.Response[messages.ConductorStatus], error) {
	return unary[messages.ConductorStatus](ctx, s, r.Msg)
}

func (s apiService) Shutdown(ctx context.Context, r *connect.Request[messages.ShutdownRequest]) (*connect.Response[messages.ShutdownResponse], error) {
	return unary[messages.ShutdownResponse](ctx, s, r.Msg)
}

func (s apiService) Submit(ctx context.Context, r *connect.Request[messages.SubmitJobRequest]) (*connect.Response[messages.SubmitJobResponse], error) {
	return unary[messages.SubmitJobResponse](ctx, s, r.Msg)
}

func (s apiService) Job(ctx context.Context, r *connect.Request[messages.JobStatusRequest]) (*connect.Response[messages.JobStatus], error) {
	return unary[messages.JobStatus](ctx, s, r.Msg)
}

func (s apiService) List(ctx context.Context, r *connect.Request[messages.ListJobsRequest]) (*connect.Response[messages.JobList], error) {
	return unary[messages.JobList](ctx, s, r.Msg)
}

func (s apiService) Control(ctx context.Context, r *connect.Request[messages.JobControlRequest]) (*connect.Response[messages.JobControlResponse], error) {
	return unary[messages.JobControlResponse](ctx, s, r.Msg)
}

func (s apiService) Insights(ctx context.Context, r *connect.Request[messages.InsightsRequest]) (*connect.Response[messages.Insights], error) {
	return unary[messages.Insights](ctx, s, r.Msg)
}

func (s apiService) Top(ctx context.Context, r *connect.Request[messages.TopRequest]) (*connect.Response[messages.TopSnapshot], error) {
	return unary[messages.TopSnapshot](ctx, s, r.Msg)
}

// The fleet RPCs answer from the etcd view of the member that was asked,
// so a CLI anywhere sees the fleet through any one member.
func (s apiService) FleetList(ctx context.Context, r *connect.Request[messages.FleetListRequest]) (*connect.Response[messages.FleetJobList], error) {
	return unary[messages.FleetJobList](ctx, s, r.Msg)
}

func (s apiService) FleetStatus(ctx context.Context, r *connect.Request[messages.FleetStatusRequest]) (*connect.Response[messages.FleetStatus], error) {
	return unary[messages.FleetStatus](ctx, s, r.Msg)
}

func (s apiService) FleetTop(ctx context.Context, r *connect.Request[messages.FleetTopRequest]) (*connect.Response[messages.FleetTop], error) {
	return unary[messages.FleetTop](ctx, s, r.Msg)
}

func (s apiService) Bundle(ctx context.Context, r *connect.Request[messages.BundleRequest], out *connect.ServerStream[messages.BundleChunk]) error {
	return stream(ctx, s, r.Msg, out)
}

func (s apiService) Logs(ctx context.Context, r *connect.Request[messages.LogsRequest], out *connect.ServerStream[messages.LogChunk]) error {
	return stream(ctx, s, r.Msg, out)
}

func (s apiService) Events(ctx context.Context, r *connect.Request[messages.EventsRequest], out *connect.ServerStream[messages.Event]) error {
	return stream(ctx, s, r.Msg, out)
}

// codeOnWire maps the conductor's error codes to the Connect/gRPC codes a
// generic client understands; the conductor's own Error travels as a detail
// (its code and hint).
var codeOnWire = map[messages.ErrorCode]connect.Code{
	messages.ErrorCode_ERROR_CODE_INTERNAL:          connect.CodeInternal,
	messages.ErrorCode_ERROR_CODE_BAD_REQUEST:       connect.CodeInvalidArgument,
	messages.ErrorCode_ERROR_CODE_FRAME_TOO_LARGE:   connect.CodeResourceExhausted,
	messages.ErrorCode_ERROR_CODE_UNSUPPORTED:       connect.CodeUnimplemented,
	messages.ErrorCode_ERROR_CODE_PERMISSION_DENIED: connect.CodePermissionDenied,
	messages.ErrorCode_ERROR_CODE_TIMEOUT:           connect.CodeDeadlineExceeded,
	messages.ErrorCode_ERROR_CODE_BUSY:              connect.CodeResourceExhausted,
	messages.ErrorCode_ERROR_CODE_NOT_FOUND:         connect.CodeNotFound,
	messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE:    connect.CodeAlreadyExists,
	messages.ErrorCode_ERROR_CODE_REFUSED:           connect.CodeFailedPrecondition,
	messages.ErrorCode_ERROR_CODE_INVALID_SCORE:     connect.CodeInvalidArgument,
	messages.ErrorCode_ERROR_CODE_INVALID_STATE:     connect.CodeFailedPrecondition,
	messages.ErrorCode_ERROR_CODE_STORAGE:           connect.CodeUnavailable,
}

// CodeOnWire is the Connect code an error code travels as.
func CodeOnWire(c messages.ErrorCode) connect.Code {
	if code, ok := codeOnWire[c]; ok {
		return code
	}
	return connect.CodeUnknown
}

func connectError(err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	var me *messages.Error
	if !errors.As(err, &me) {
		if errors.Is(err, context.Canceled) {
			return connect.NewError(connect.CodeCanceled, err)
		}
		return connect.NewError(connect.CodeInternal, err)
	}
	out := connect.NewError(CodeOnWire(me.GetCode()), errors.New(me.GetMessage()))
	if d, derr := connect.NewErrorDetail(me); derr == nil {
		out.AddDetail(d)
	}
	return out
}
