package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
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
	scriptCmds["spoofpeer"] = cmdSpoofPeer
}

// spoofpeer ADDR CERTDIR NAME CLAIM: a peer with a valid certificate that
// lies about who it is, on protoactor's wire protocol written by hand. It
// connects to the conductor's remote endpoint at ADDR with certificate NAME
// and announces CLAIM as its address ("self" for the address it really
// listens on). Then, on the same stream, it sends StreamEnd for correlation
// ids 1-20 as CLAIM (abandoning another client's streams, if CLAIM is that
// client's), a health request as a sender at a decoy address (a listener
// that counts who dials it), 70 followed event streams and a health request
// as CLAIM. It prints one line per finding:
//
//	refused: REASON          the conductor ended the stream at once
//	health ready=true        an answer reached the real listener
//	busy N                   N of the 70 streams were refused BUSY
//	decoy dialled N          how many connections the decoy got
func cmdSpoofPeer(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: spoofpeer ADDR CERTDIR NAME CLAIM")
	}
	addr, dir, name, claim := args[0], ts.MkAbs(args[1]), args[2], args[3]
	srvTLS, cliTLS := peerTLS(ts, dir, name)

	// The real listener, where answers to a truthful address arrive, and
	// the decoy, which nobody should ever dial.
	lnAddr, got, stop := replyServer(ts, srvTLS, 256)
	defer stop()
	decoy, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	defer decoy.Close()
	var dialled atomic.Int32
	go func() {
		for {
			c, err := decoy.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()
	if claim == "self" {
		claim = lnAddr
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cliTLS)))
	ts.Check(err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	ts.Check(err)
	ts.Check(stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
		ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
			ServerConnection: &remote.ServerConnection{SystemId: "spoofpeer", Address: claim}}}}}))
	if _, err := stream.Recv(); err != nil {
		fmt.Fprintf(ts.Stdout(), "refused: %v\n", err)
		return
	}

	gw := actor.NewPID(addr, "daemon/remote")
	as := actor.NewPID(claim, "peer")
	elsewhere := actor.NewPID(decoy.Addr().String(), "peer")
	send := func(entries func(add func(sender int32, env *messages.Envelope))) {
		b := &remote.MessageBatch{TypeNames: []string{"mzt.v1.Envelope"}, Targets: []*actor.PID{gw},
			Senders: []*actor.PID{as, elsewhere}}
		entries(func(sender int32, env *messages.Envelope) {
			data, err := proto.Marshal(env)
			ts.Check(err)
			b.Envelopes = append(b.Envelopes, &remote.MessageEnvelope{TypeId: 0, Target: 0, Sender: sender, MessageData: data})
		})
		ts.Check(stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}))
	}
	// wait collects answers until done says so, for at most 15 s.
	wait := func(what string, done func(*messages.Envelope) bool) bool {
		deadline := time.After(15 * time.Second)
		for {
			select {
			case env := <-got:
				if done(env) {
					return true
				}
			case <-deadline:
				fmt.Fprintf(ts.Stdout(), "no %s within 15s\n", what)
				return false
			}
		}
	}

	send(func(add func(int32, *messages.Envelope)) {
		for id := range uint64(20) {
			add(1, &messages.Envelope{CorrelationId: id + 1, ProtocolVersion: messages.ProtocolVersion,
				Body: &messages.Envelope_StreamEnd{StreamEnd: &messages.StreamEnd{Reason: "spoofed"}}})
		}
		add(2, messages.MustWrap(500, &messages.HealthRequest{}))
		add(1, messages.MustWrap(600, &messages.HealthRequest{}))
	})
	if !wait("health answer", func(env *messages.Envelope) bool {
		return env.GetHealthResponse() != nil && env.GetCorrelationId() == 600
	}) {
		return
	}
	fmt.Fprintln(ts.Stdout(), "health ready=true")

	const streams, share = 70, 64
	send(func(add func(int32, *messages.Envelope)) {
		for id := range uint64(streams) {
			add(1, messages.MustWrap(1000+id, &messages.EventsRequest{Follow: true}))
		}
	})
	busy := 0
	wait("BUSY answers", func(env *messages.Envelope) bool {
		if env.GetError().GetCode() == messages.ErrorCode_ERROR_CODE_BUSY {
			busy++
		}
		return busy >= streams-share
	})
	// An answer to the decoy would be sent beside the others, on a
	// connection of its own: give it a moment to show up.
	for end := time.Now().Add(2 * time.Second); dialled.Load() == 0 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(ts.Stdout(), "busy %d\ndecoy dialled %s\n", busy, strconv.Itoa(int(dialled.Load())))
}
