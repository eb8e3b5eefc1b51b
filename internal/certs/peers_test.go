package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// peerStream is fakeStream from a given host, with a certificate named
// name (none when name is "").
type peerStream struct {
	fakeStream
	ctx context.Context
}

func (p *peerStream) Context() context.Context { return p.ctx }

func fromPeer(ip, name string, in ...*remote.RemoteMessage) *peerStream {
	p := &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}
	if name != "" {
		leaf := &x509.Certificate{Subject: pkix.Name{CommonName: name}, Raw: []byte("cert of " + name)}
		p.AuthInfo = credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}}
	}
	return &peerStream{fakeStream: fakeStream{in: in}, ctx: peer.NewContext(context.Background(), p)}
}

func connect(addr string) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
		ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{Address: addr}}}}}
}

// guarded is a guard over book; run feeds it a stream and returns the
// entries that got through and how the stream ended.
type guarded struct {
	guard grpc.StreamServerInterceptor
	gone  []string
}

func newGuarded(book *PeerBook) *guarded {
	g := &guarded{}
	g.guard = StreamGuard(GuardOptions{
		Types:    []string{"google.protobuf.StringValue"},
		Address:  func() string { return "10.0.0.1:7300" },
		PeerGone: func(addr string) { g.gone = append(g.gone, addr) },
		Peers:    book,
		Log:      slog.New(slog.DiscardHandler),
	})
	return g
}

func (g *guarded) run(ss grpc.ServerStream) (kept []*actor.PID, err error) {
	err = g.guard(nil, ss, &grpc.StreamServerInfo{}, func(_ any, ss grpc.ServerStream) error {
		for {
			var m remote.RemoteMessage
			if err := ss.RecvMsg(&m); err != nil {
				return err
			}
			if b := m.GetMessageBatch(); b != nil {
				for _, e := range b.Envelopes {
					kept = append(kept, b.Senders[e.Sender-1])
				}
			}
		}
	})
	return kept, err
}

func fromSenders(senders ...string) *remote.RemoteMessage {
	hello, _ := proto.Marshal(wrapperspb.String("hello"))
	b := &remote.MessageBatch{TypeNames: []string{"google.protobuf.StringValue"},
		Targets: []*actor.PID{actor.NewPID("10.0.0.1:7300", "gw")}}
	for i, s := range senders {
		b.Senders = append(b.Senders, actor.NewPID(s, "me"))
		b.Envelopes = append(b.Envelopes, &remote.MessageEnvelope{TypeId: 0, Target: 0, Sender: int32(i + 1), MessageData: hello})
	}
	return batch(b)
}

func TestPeerBookBindsAnnouncedAddresses(t *testing.T) {
	book := NewPeerBook(func() string { return "10.0.0.1:7300" })
	g := newGuarded(book)

	// A peer sends as the address it announced, and as nothing else.
	kept, err := g.run(fromPeer("10.0.0.9", "alice", connect("10.0.0.9:5000"),
		fromSenders("10.0.0.9:5000", "10.0.0.7:5000", "10.0.0.9:5001")))
	if err != io.EOF || len(kept) != 1 || kept[0].Address != "10.0.0.9:5000" {
		t.Errorf("kept %v (%v), want only the sender at the announced address", kept, err)
	}
	if len(g.gone) != 1 || g.gone[0] != "10.0.0.9:5000" {
		t.Errorf("PeerGone %v, want the announced address once", g.gone)
	}
	if book.lookup("10.0.0.9:5000") != nil {
		t.Error("the address is still bound after its stream ended")
	}

	for _, tc := range []struct {
		name, from, cert, addr, why string
	}{
		{"another host's address", "10.0.0.9", "alice", "10.0.0.7:5000", "connects from 10.0.0.9"},
		{"the conductor's own", "10.0.0.1", "alice", "10.0.0.1:7300", "this conductor's own"},
		{"not an address", "10.0.0.9", "alice", "nowhere", "not HOST:PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGuarded(book)
			kept, err := g.run(fromPeer(tc.from, tc.cert, connect(tc.addr), fromSenders(tc.addr)))
			if err == nil || !strings.Contains(err.Error(), tc.why) || len(kept) != 0 {
				t.Errorf("stream ended with %v, kept %v; want refused: %s", err, kept, tc.why)
			}
			if len(g.gone) != 0 {
				t.Errorf("PeerGone %v for an address never bound", g.gone)
			}
		})
	}

	// Loopback is one host: 127.0.0.1 may be announced over ::1.
	if _, err := newGuarded(book).run(fromPeer("::1", "alice", connect("127.0.0.1:5000"))); err != io.EOF {
		t.Errorf("loopback over ::1: %v", err)
	}
}

// While a peer's stream lives, a peer of another certificate cannot take its
// address (and so neither end its streams nor receive its replies); the same
// certificate can (a client reconnecting).
func TestPeerBookKeepsAddressesApart(t *testing.T) {
	book := NewPeerBook(nil)
	alice := fromPeer("127.0.0.1", "alice", connect("127.0.0.1:5000"))
	g := newGuarded(book)
	// alice's stream stays open: feed it its ConnectRequest only.
	gs := &guardedStream{ServerStream: alice, opts: &GuardOptions{Peers: book, Log: slog.New(slog.DiscardHandler)},
		name: "alice", tls: true}
	gs.leaf[0] = 1
	if err := gs.announce("127.0.0.1:5000"); err != nil {
		t.Fatal(err)
	}
	_, err := g.run(fromPeer("127.0.0.1", "mallory", connect("127.0.0.1:5000"), fromSenders("127.0.0.1:5000")))
	if err == nil || !strings.Contains(err.Error(), `belongs to another peer (certificate "alice")`) {
		t.Errorf("mallory announcing alice's address: %v", err)
	}
	if len(g.gone) != 0 {
		t.Errorf("mallory's refused stream ended alice's requests: PeerGone %v", g.gone)
	}
	if book.lookup("127.0.0.1:5000").name != "alice" {
		t.Error("alice lost her address")
	}
	// A stream may repeat its own announcement.
	if err := gs.announce("127.0.0.1:5000"); err != nil {
		t.Errorf("announcing the same address again: %v", err)
	}
}

// Dialling back, the conductor reaches only a peer that announced the
// address, with the certificate it announced it with.
func TestPinnedDialCreds(t *testing.T) {
	book := NewPeerBook(nil)
	gs := &guardedStream{name: "alice", tls: true, leaf: sha256.Sum256([]byte("alice's certificate"))}
	book.byAddr["10.0.0.9:5000"] = &binding{owner: gs, name: "alice", leaf: gs.leaf, tls: true}
	for _, tc := range []struct {
		addr string
		cert []byte
		ok   bool
	}{
		{"10.0.0.9:5001", []byte("x"), false},
		{"10.0.0.9:5000", []byte("someone else"), false},
		{"10.0.0.9:5000", []byte("alice's certificate"), true},
	} {
		c := pinnedCreds{TransportCredentials: fakeTLS{cert: tc.cert}, book: book}
		_, _, err := c.ClientHandshake(context.Background(), tc.addr, nopConn{})
		if (err == nil) != tc.ok {
			t.Errorf("dial %s with certificate %q: %v", tc.addr, tc.cert, err)
		}
	}
}

type fakeTLS struct {
	credentials.TransportCredentials
	cert []byte
}

func (f fakeTLS) ClientHandshake(_ context.Context, _ string, c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c, credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: f.cert}}}}, nil
}

type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }
