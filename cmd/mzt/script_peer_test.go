package main

import (
	"crypto/tls"
	"net"
	"path/filepath"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// peerTLS loads certificate NAME from CERTDIR for a hand-written protoactor
// peer: its server side (where the conductor dials back) and its client side.
func peerTLS(ts *testscript.TestScript, dir, name string) (srv, cli *tls.Config) {
	files := certs.Files{CA: filepath.Join(dir, certs.CAFile), Cert: filepath.Join(dir, name+".pem"),
		Key: filepath.Join(dir, name+".key")}
	srv, err := certs.ServerConfig(files)
	ts.Check(err)
	cli, err = certs.ClientConfig(files, true)
	ts.Check(err)
	return srv, cli
}

// replyServer listens on loopback for the conductor's answers to a
// hand-written peer; they arrive on got (buffered size). stop ends it.
func replyServer(ts *testscript.TestScript, srvTLS *tls.Config, size int) (addr string, got chan *messages.Envelope, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	got = make(chan *messages.Envelope, size)
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)))
	remote.RegisterRemotingServer(srv, &replySink{got: got})
	go srv.Serve(ln)
	return ln.Addr().String(), got, srv.Stop
}
