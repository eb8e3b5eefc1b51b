package client

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/internal/pki"
)

// The probe tells a certificate the conductor refuses from a conductor that
// is gone: the first is a fix in client.toml, the second a wait.
func TestProbeTellsRefusedCertificateFromGone(t *testing.T) {
	good, other := t.TempDir(), t.TempDir()
	for _, dir := range []string{good, other} {
		if err := pki.InitCA(dir, "test CA", false); err != nil {
			t.Fatal(err)
		}
	}
	host, err := pki.Issue(good, pki.IssueOptions{Name: "host", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	user, err := pki.Issue(good, pki.IssueOptions{Name: "user"})
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := pki.Issue(other, pki.IssueOptions{Name: "stranger"})
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(good, "ca.pem")
	serverCfg, err := pki.ServerConfig(pki.Files{CA: ca, Cert: host.Cert, Key: host.Key})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), TLSConfig: serverCfg, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	addr := ln.Addr().String()

	clientCfg := func(cert pki.CertPaths) *tls.Config {
		cfg, err := pki.ClientConfig(pki.Files{CA: ca, Cert: cert.Cert, Key: cert.Key}, true)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if err := Probe(addr, clientCfg(user), 5*time.Second); err != nil {
		t.Fatalf("a certificate of the conductor's CA: %v", err)
	}
	for range 20 { // the refusal used to arrive as a reset now and then
		err := Probe(addr, clientCfg(stranger), 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "refused this client's certificate") {
			t.Fatalf("a certificate of another CA: %v, want it called refused", err)
		}
	}
	srv.Close()
	err = Probe(addr, clientCfg(user), 5*time.Second)
	if !errors.Is(err, ErrConnectionLost) || strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "TLS") {
		t.Fatalf("a conductor that is gone: %v, want not reachable", err)
	}

	// A conductor killed while it answers: the kernel resets what it had
	// accepted, in the middle of the handshake.
	dying, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dying.Close()
	go func() {
		for {
			c, err := dying.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 64)) // part of the ClientHello, the rest unread
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	err = Probe(dying.Addr().String(), clientCfg(user), 5*time.Second)
	if !errors.Is(err, ErrConnectionLost) || strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "TLS") {
		t.Fatalf("a conductor reset in the handshake: %v, want not reachable", err)
	}
}
