package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// PeerBook binds the address each peer announces (protoactor's
// ConnectRequest: where replies to it are sent) to the authenticated stream
// it arrived on. protoactor takes that address, and the sender address on
// every message, on the peer's word; with the book a peer can announce only
// an address on the host it connects from, that no peer of another
// certificate holds, and send only as that address. Dialling back, the
// conductor checks that the address answers with the very certificate that
// announced it (DialCreds).
type PeerBook struct {
	self func() string // this system's own address: never a peer's

	mu     sync.Mutex
	byAddr map[string]*binding
}

type binding struct {
	owner *guardedStream
	name  string   // certificate common name ("" without TLS)
	leaf  [32]byte // SHA-256 of the certificate; zero without TLS
	tls   bool
}

// NewPeerBook makes an empty book; self is this system's advertised address.
func NewPeerBook(self func() string) *PeerBook {
	return &PeerBook{self: self, byAddr: map[string]*binding{}}
}

// resolveTimeout bounds the lookup of a host name a peer announces.
const resolveTimeout = 3 * time.Second

// claim binds addr to stream s, or says why it may not.
func (b *PeerBook) claim(ctx context.Context, addr string, s *guardedStream) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("announced address %q is not HOST:PORT", addr)
	}
	if b.self != nil && addr == b.self() {
		return fmt.Errorf("announced address %s is this conductor's own", addr)
	}
	from := connIP(ctx)
	if from == nil {
		return errors.New("the connection has no remote address")
	}
	if err := sameHost(ctx, host, from); err != nil {
		return fmt.Errorf("announced address %s: %w", addr, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The same certificate may take its address over (a client that
	// reconnects before its old stream is seen to end); without TLS there
	// is no identity to protect, and such peers only ask for health.
	if cur := b.byAddr[addr]; cur != nil && cur.owner != s && (cur.tls || s.tls) && (cur.leaf != s.leaf) {
		return fmt.Errorf("announced address %s belongs to another peer (certificate %q)", addr, cur.name)
	}
	b.byAddr[addr] = &binding{owner: s, name: s.name, leaf: s.leaf, tls: s.tls}
	return nil
}

// release unbinds addr if s still holds it, and reports whether it did.
func (b *PeerBook) release(addr string, s *guardedStream) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur := b.byAddr[addr]; cur != nil && cur.owner == s {
		delete(b.byAddr, addr)
		return true
	}
	return false
}

func (b *PeerBook) lookup(addr string) *binding {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byAddr[addr]
}

// connIP is the IP the stream's connection comes from.
func connIP(ctx context.Context) net.IP {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return nil
	}
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		return tcp.IP
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}

// sameHost reports whether host (an IP or a name) is the host at from.
// Loopback addresses are one host.
func sameHost(ctx context.Context, host string, from net.IP) error {
	if ip := net.ParseIP(host); ip != nil {
		if ip.Equal(from) || (ip.IsLoopback() && from.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("the peer connects from %s, not from there", from)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if a.IP.Equal(from) || (a.IP.IsLoopback() && from.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%s does not resolve to %s, where the peer connects from", host, from)
}

// DialCreds is TLS for the connections this system opens to peers'
// announced addresses (its replies): the handshake fails unless an
// authenticated peer announced the address dialled, and the certificate
// there is the one that peer connected with.
func (b *PeerBook) DialCreds(cfg *tls.Config) credentials.TransportCredentials {
	return pinnedCreds{TransportCredentials: credentials.NewTLS(cfg), book: b}
}

type pinnedCreds struct {
	credentials.TransportCredentials
	book *PeerBook
}

func (c pinnedCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, err
	}
	refuse := func(why string) (net.Conn, credentials.AuthInfo, error) {
		conn.Close()
		return nil, nil, fmt.Errorf("dial %s: %s", authority, why)
	}
	bound := c.book.lookup(authority)
	if bound == nil || !bound.tls {
		return refuse("no authenticated peer announced this address")
	}
	ti, ok := info.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return refuse("no certificate")
	}
	if sha256.Sum256(ti.State.PeerCertificates[0].Raw) != bound.leaf {
		return refuse(fmt.Sprintf("the certificate there is not the one of the peer that announced it (%q)", bound.name))
	}
	return conn, info, nil
}

func (c pinnedCreds) Clone() credentials.TransportCredentials {
	return pinnedCreds{TransportCredentials: c.TransportCredentials.Clone(), book: c.book}
}
