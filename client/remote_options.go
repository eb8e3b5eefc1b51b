package client

import (
	"log/slog"
	"time"
)

// RemoteGatewayID is the well-known actor id of a conductor's remote
// gateway: any protoactor program with a client certificate signed by the
// fleet's CA can send it *messages.Envelope requests at
// actor.NewPID("HOST:PORT", RemoteGatewayID), with itself as the sender.
// Replies (and stream items, ended by StreamEnd or Error) come back to the
// sender as Envelopes with the request's correlation id; a client that
// abandons a stream sends StreamEnd with that id.
const RemoteGatewayID = "daemon/remote"

// DefaultRemoteTimeout bounds a remote request when the caller sets none.
const DefaultRemoteTimeout = 10 * time.Second

// TLSFiles are the PEM files of mutual TLS: the fleet's CA, and this
// client's certificate (good for client and server auth: the conductor
// dials back) with its key.
type TLSFiles struct{ CA, Cert, Key string }

// RemoteOptions configure the protoactor node a client talks through.
type RemoteOptions struct {
	TLS *TLSFiles // nil: plaintext (a loopback endpoint without certificates)
	// Advertise is the host (or HOST:PORT, for a fixed port a firewall can
	// open) the conductor dials back to with its replies (protoactor has no
	// client-only mode). "" picks the local address that routes to the
	// first peer, on an ephemeral port.
	Advertise string
	Timeout   time.Duration // per request and per probe; 0 = DefaultRemoteTimeout
	Log       *slog.Logger  // nil = discard
}
