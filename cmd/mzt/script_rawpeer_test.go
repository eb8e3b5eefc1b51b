package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/mzt-dev/mzt/messages"
	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

func init() {
	scriptCmds["rawpeer"] = cmdRawPeer
}

// rawpeer ADDR CERTDIR NAME: a trusted but hostile protoactor peer, written
// by hand on protoactor's wire protocol (no protoactor actor system, so it
// can send what protoactor itself never would). With the certificate NAME
// from CERTDIR it connects to the conductor's remote endpoint at ADDR and
// sends, on one stream: a message of a type the conductor does not know, a
// batch with out-of-range indices, a PoisonPill for the jobs actor, a
// message in protoactor's JSON serializer, then a HealthRequest. It prints
// one line per answer it receives (over the conductor's dial-back
// connection) and whether the conductor still answered health.
func cmdRawPeer(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: rawpeer ADDR CERTDIR NAME")
	}
	addr, dir, name := args[0], ts.MkAbs(args[1]), args[2]
	srvTLS, cliTLS := peerTLS(ts, dir, name)

	// Where the conductor sends its answers.
	self, got, stop := replyServer(ts, srvTLS, 16)
	defer stop()

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cliTLS)))
	ts.Check(err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	ts.Check(err)
	ts.Check(stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
		ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
			ServerConnection: &remote.ServerConnection{SystemId: "rawpeer", Address: self}}}}}))
	if _, err := stream.Recv(); err != nil {
		ts.Fatalf("connect: %v", err)
	}
	gw := actor.NewPID(addr, "daemon/remote")
	me := actor.NewPID(self, "peer")
	health, err := proto.Marshal(messages.MustWrap(7, &messages.HealthRequest{}))
	ts.Check(err)
	batches := []*remote.MessageBatch{
		{ // an unknown type, with a sender: answered UNSUPPORTED
			TypeNames: []string{"mzt.v2.FromTheFuture"}, Targets: []*actor.PID{gw}, Senders: []*actor.PID{me},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, Sender: 1, MessageData: []byte{0x0a, 0x01, 'x'}}},
		},
		{ // indices out of range and a serializer that does not exist: dropped
			TypeNames: []string{"mzt.v1.Envelope"}, Targets: []*actor.PID{gw}, Senders: []*actor.PID{me},
			Envelopes: []*remote.MessageEnvelope{
				{TypeId: 5, Target: 0, Sender: 1, MessageData: health},
				{TypeId: 0, Target: 9, Sender: 1, MessageData: health},
				{TypeId: 0, Target: 0, Sender: 4, MessageData: health},
				{TypeId: 0, Target: 0, Sender: 1, SerializerId: 77, MessageData: health},
			},
		},
		{ // a poison pill for another actor: dropped
			TypeNames: []string{"actor.PoisonPill"}, Targets: []*actor.PID{actor.NewPID(addr, "daemon/jobs")},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0}},
		},
		{ // still serving: health answered
			TypeNames: []string{"mzt.v1.Envelope"}, Targets: []*actor.PID{gw}, Senders: []*actor.PID{me},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, Sender: 1, MessageData: health}},
		},
	}
	for _, b := range batches {
		ts.Check(stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}))
	}
	var lines []string
	deadline := time.After(15 * time.Second)
	for done := false; !done; {
		select {
		case env := <-got:
			switch {
			case env.GetError() != nil:
				lines = append(lines, fmt.Sprintf("error %d %s: %s", env.GetCorrelationId(),
					env.GetError().GetCode(), env.GetError().GetMessage()))
			case env.GetHealthResponse() != nil:
				lines = append(lines, fmt.Sprintf("health %d ready=%v", env.GetCorrelationId(), env.GetHealthResponse().GetReady()))
				done = true
			default:
				lines = append(lines, fmt.Sprintf("other %d %T", env.GetCorrelationId(), env.GetBody()))
			}
		case <-deadline:
			lines = append(lines, "no health answer within 15s")
			done = true
		}
	}
	fmt.Fprintln(ts.Stdout(), strings.Join(lines, "\n"))
}

// replySink is the peer's end of the conductor's dial-back connection.
type replySink struct {
	remote.UnimplementedRemotingServer
	got chan<- *messages.Envelope
}

func (r *replySink) Receive(stream remote.Remoting_ReceiveServer) error {
	for {
		msg, err := stream.Recv()
		if err != nil {
			return nil
		}
		if msg.GetConnectRequest() != nil {
			if err := stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectResponse{
				ConnectResponse: &remote.ConnectResponse{MemberId: "rawpeer"}}}); err != nil {
				return nil
			}
			continue
		}
		b := msg.GetMessageBatch()
		for _, e := range b.GetEnvelopes() {
			if int(e.TypeId) >= len(b.TypeNames) || b.TypeNames[e.TypeId] != "mzt.v1.Envelope" {
				continue
			}
			var env messages.Envelope
			if proto.Unmarshal(e.MessageData, &env) == nil {
				r.got <- &env
			}
		}
	}
}
