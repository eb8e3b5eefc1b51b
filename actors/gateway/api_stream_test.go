package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
	"google.golang.org/protobuf/proto"
)

// followHandler streams one event, then holds the stream until its request
// ends, and says when that was.
type followHandler struct{ ended chan struct{} }

func (h *followHandler) Handle(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
	if err := send(&messages.Event{Seq: 1, Kind: string(messages.EventJobStatus)}); err != nil {
		return nil, err
	}
	<-ctx.Done()
	close(h.ended)
	return nil, nil
}

// A client that cancels a followed stream ends its work on the conductor at
// once; a read-only caller may follow, not shut down.
func TestAPIStreamCancelAndRoles(t *testing.T) {
	h := &followHandler{ended: make(chan struct{})}
	api := APIHandler(h, slog.New(slog.DiscardHandler))
	role := certs.RoleFull
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(w, r.WithContext(withCaller(r.Context(), role, "viewer")))
	}))
	defer srv.Close()
	c := messagesconnect.NewConductorClient(srv.Client(), srv.URL)

	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.Events(ctx, connect.NewRequest(&messages.EventsRequest{Follow: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() || stream.Msg().GetSeq() != 1 {
		t.Fatalf("first event: %v", stream.Err())
	}
	cancel()
	select {
	case <-h.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the conductor still serves a stream its client cancelled")
	}
	stream.Close()

	role = certs.RoleReadOnly
	_, err = c.Shutdown(context.Background(), connect.NewRequest(&messages.ShutdownRequest{}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("read-only shutdown: %v, want permission_denied", err)
	}
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Message() != `certificate "viewer" is read-only here: ShutdownRequest needs a full client certificate` {
		t.Errorf("refusal says %q", ce.Message())
	}
}
