// Package remotewire is the one place the settings of protoactor's remote
// transport live, so that a conductor's endpoint and a client's node speak
// with the same limits: message size, keepalive, TLS, the writer's batches
// and queues, and IPv6 literals in addresses.
package remotewire

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// MaxMessage is the largest gRPC message either end accepts: gRPC's 4 MiB
// default would tear a connection down on a big job list.
const MaxMessage = 64 << 20

// WriterBatch bounds how many messages protoactor packs into one gRPC
// message, so that a run of 64 KiB log chunks stays far below MaxMessage.
const WriterBatch = 32

// writerQueue is the initial size of protoactor's growable endpoint queues:
// its default of 1e6 preallocates 16 MB per peer connection (and once for
// the endpoint manager).
const writerQueue = 1024

// Settings are what differs between the two ends.
type Settings struct {
	// Listen is HOST or HOST:PORT (port 0 or none: ephemeral); an IPv6
	// literal may come with or without brackets.
	Listen string
	// Advertise, when set, is the HOST:PORT peers dial back to.
	Advertise string
	// ServerCreds secure the listening side; nil means plaintext.
	ServerCreds credentials.TransportCredentials
	// DialCreds secure the connections this end opens; nil means plaintext.
	DialCreds credentials.TransportCredentials
	// Guard screens every incoming stream (certs.StreamGuard).
	Guard grpc.StreamServerInterceptor
}

// Config builds protoactor's remote configuration from s.
func Config(s Settings) (*remote.Config, error) {
	host, port, err := SplitListen(s.Listen)
	if err != nil {
		return nil, err
	}
	serverOpts := []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessage),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true})}
	if s.ServerCreds != nil {
		serverOpts = append(serverOpts, grpc.Creds(s.ServerCreds))
	}
	if s.Guard != nil {
		serverOpts = append(serverOpts, grpc.StreamInterceptor(s.Guard))
	}
	dialOpts := []grpc.DialOption{grpc.WithKeepaliveParams(keepalive.ClientParameters{
		Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true})}
	if s.DialCreds != nil {
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(s.DialCreds))
	} else {
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	opts := []remote.ConfigOption{remote.WithServerOptions(serverOpts...), remote.WithDialOptions(dialOpts...),
		remote.WithEndpointWriterBatchSize(WriterBatch),
		remote.WithEndpointWriterQueueSize(writerQueue), remote.WithEndpointManagerQueueSize(writerQueue)}
	if s.Advertise != "" {
		opts = append(opts, remote.WithAdvertisedHost(s.Advertise))
	}
	// protoactor joins host and port with a bare colon: an IPv6 literal
	// needs its brackets kept for net.Listen to read it.
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return remote.Configure(host, port, opts...), nil
}

// SplitListen reads HOST or HOST:PORT; a bare host (IPv6 literals
// included, bracketed or not) has port 0.
func SplitListen(listen string) (host string, port int, err error) {
	if h, p, err := net.SplitHostPort(listen); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil || port < 0 || port > 65535 {
			return "", 0, fmt.Errorf("listen %q: bad port %q", listen, p)
		}
		return h, port, nil
	}
	host = strings.TrimSuffix(strings.TrimPrefix(listen, "["), "]")
	if host == "" || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", 0, fmt.Errorf("listen %q: want HOST or HOST:PORT (an IPv6 address in brackets: [::1]:7400)", listen)
	}
	return host, 0, nil
}
