package certs

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// fakeStream hands out the given messages, then io.EOF.
type fakeStream struct {
	grpc.ServerStream
	in []*remote.RemoteMessage
}

func (f *fakeStream) Context() context.Context { return context.Background() }

func (f *fakeStream) RecvMsg(m any) error {
	if len(f.in) == 0 {
		return io.EOF
	}
	proto.Merge(m.(*remote.RemoteMessage), f.in[0])
	f.in = f.in[1:]
	return nil
}

func batch(b *remote.MessageBatch) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}
}

func TestStreamGuard(t *testing.T) {
	const here = "10.0.0.1:7300"
	var gone []string
	guard := StreamGuard(GuardOptions{
		Types:       []string{"google.protobuf.StringValue"},
		Target:      func(id string) bool { return id == "gw" },
		Address:     func() string { return here },
		Placeholder: func(name string) proto.Message { return wrapperspb.String("unknown " + name) },
		PeerGone:    func(addr string) { gone = append(gone, addr) },
		Log:         slog.New(slog.DiscardHandler),
	})
	gw := actor.NewPID("other-name:7300", "gw") // dialled by another name
	peer := actor.NewPID("10.0.0.9:5000", "me")
	hello, _ := proto.Marshal(wrapperspb.String("hello"))
	in := []*remote.RemoteMessage{
		{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
			ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{Address: "10.0.0.9:5000"}}}}},
		batch(&remote.MessageBatch{
			TypeNames: []string{"google.protobuf.StringValue", "no.such.Type", "actor.PoisonPill"},
			Targets:   []*actor.PID{gw, actor.NewPID(here, "daemon/jobs")},
			Senders:   []*actor.PID{peer},
			Envelopes: []*remote.MessageEnvelope{
				{TypeId: 0, Target: 0, Sender: 1, MessageData: hello, // kept; its forged role is replaced
					MessageHeader: &remote.MessageHeader{HeaderData: map[string]string{HeaderRole: RoleFull}}},
				{TypeId: 1, Target: 0, Sender: 1},         // unknown type: placeholder
				{TypeId: 1, Target: 0},                    // unknown type, nobody to tell: dropped
				{TypeId: 2, Target: 1},                    // PoisonPill to jobs: dropped (type and target)
				{TypeId: 0, Target: 1, Sender: 1},         // allowed type, other actor: dropped
				{TypeId: 7, Target: 0, Sender: 1},         // bad type index
				{TypeId: 0, Target: 5, Sender: 1},         // bad target index
				{TypeId: 0, Target: 0, Sender: 2},         // bad sender index
				{TypeId: 0, Target: 0, Sender: -1},        // negative index
				{TypeId: 0, Target: 0, SerializerId: 1},   // JSON serializer
				{TypeId: 0, Target: 0, SerializerId: 900}, // no such serializer
			},
		}),
	}
	var got []*remote.MessageBatch
	err := guard(nil, &fakeStream{in: in}, &grpc.StreamServerInfo{}, func(_ any, ss grpc.ServerStream) error {
		for {
			var m remote.RemoteMessage
			if err := ss.RecvMsg(&m); err != nil {
				return err
			}
			if b := m.GetMessageBatch(); b != nil {
				got = append(got, b)
			}
		}
	})
	if err != io.EOF {
		t.Fatalf("handler: %v", err)
	}
	if len(got) != 1 || len(got[0].Envelopes) != 2 {
		t.Fatalf("kept %v, want the known message and the placeholder", got)
	}
	b := got[0]
	for i, e := range b.Envelopes {
		if role := e.MessageHeader.GetHeaderData()[HeaderRole]; role != RolePlaintext {
			t.Errorf("entry %d: role %q, want plaintext (no TLS on this stream)", i, role)
		}
		if tgt := b.Targets[e.Target]; tgt.Address != here || tgt.Id != "gw" {
			t.Errorf("entry %d: target %v, want gw at %s", i, tgt, here)
		}
	}
	ph := b.Envelopes[1]
	var s wrapperspb.StringValue
	if b.TypeNames[ph.TypeId] != "google.protobuf.StringValue" || proto.Unmarshal(ph.MessageData, &s) != nil ||
		s.Value != "unknown no.such.Type" {
		t.Errorf("placeholder: type %s, %q", b.TypeNames[ph.TypeId], s.Value)
	}
	if len(gone) != 1 || gone[0] != "10.0.0.9:5000" {
		t.Errorf("PeerGone calls %v, want the announced address once", gone)
	}
}
