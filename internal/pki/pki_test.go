package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func issue(t *testing.T, dir string, opts IssueOptions) CertPaths {
	t.Helper()
	p, err := Issue(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInitIssueModesAndRoles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if err := InitCA(dir, "test CA", false); err != nil {
		t.Fatal(err)
	}
	if err := InitCA(dir, "test CA", false); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v, want ErrExists", err)
	}
	host := issue(t, dir, IssueOptions{Name: "host", Hosts: []string{"a.example", "10.1.2.3"}})
	ro := issue(t, dir, IssueOptions{Name: "viewer", ReadOnly: true})
	for _, f := range []string{filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile), host.Cert, host.Key, ro.Key} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 600", f, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %o, want 700", fi.Mode().Perm())
	}
	hc := leaf(t, host.Cert)
	if len(hc.DNSNames) != 1 || hc.DNSNames[0] != "a.example" || len(hc.IPAddresses) != 1 || !hc.IPAddresses[0].Equal(net.ParseIP("10.1.2.3")) {
		t.Errorf("SANs: %v %v", hc.DNSNames, hc.IPAddresses)
	}
	if Role(hc) != RoleFull || Role(leaf(t, ro.Cert)) != RoleReadOnly || Role(nil) != RoleReadOnly {
		t.Error("roles: host must be full, viewer and no certificate read-only")
	}
}

func leaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, path[:len(path)-len(".pem")]+".key")
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handshake runs a TLS 1.3 handshake over a pipe; the server's error says
// whether it accepted the client (TLS 1.3 checks the client after the
// client has finished, so the client side may succeed anyway).
func handshake(t *testing.T, srv, cli *tls.Config, serverName string) (serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	deadline := time.Now().Add(5 * time.Second)
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		s := tls.Server(a, srv)
		err := s.Handshake()
		if err == nil {
			_, err = s.Read(make([]byte, 1))
		}
		s.Close()
		done <- err
	}()
	c := cli.Clone()
	c.ServerName = serverName
	cc := tls.Client(b, c)
	clientErr = cc.Handshake()
	if clientErr == nil {
		if _, clientErr = cc.Write([]byte{1}); clientErr == nil {
			// the server's verdict on our certificate comes with its answer
			_, clientErr = cc.Read(make([]byte, 1))
			if errors.Is(clientErr, io.EOF) {
				clientErr = nil
			}
		}
	}
	cc.Close()
	return <-done, clientErr
}

func TestMutualTLS(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	for _, d := range []string{dir, other} {
		if err := InitCA(d, "CA", false); err != nil {
			t.Fatal(err)
		}
	}
	issue(t, dir, IssueOptions{Name: "host", Hosts: []string{"127.0.0.1"}})
	issue(t, dir, IssueOptions{Name: "client"})
	issue(t, other, IssueOptions{Name: "client"})
	files := func(caDir, certDir, name string) Files {
		p := Paths(certDir, name)
		return Files{CA: filepath.Join(caDir, CAFile), Cert: p.Cert, Key: p.Key}
	}
	srv, err := ServerConfig(files(dir, dir, "host"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := ClientConfig(files(dir, dir, "client"), true)
	if err != nil {
		t.Fatal(err)
	}
	if s, c := handshake(t, srv, good, "127.0.0.1"); s != nil || c != nil {
		t.Fatalf("same CA: server %v, client %v", s, c)
	}
	// A client certificate from another CA is refused by the server.
	foreign, _ := ClientConfig(files(dir, other, "client"), true)
	if s, _ := handshake(t, srv, foreign, "127.0.0.1"); s == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
	// The host name is checked when asked, and only then.
	if _, c := handshake(t, srv, good, "elsewhere.example"); c == nil {
		t.Fatal("a conductor certificate for another host was accepted")
	}
	chainOnly, _ := ClientConfig(files(dir, dir, "client"), false)
	if s, c := handshake(t, srv, chainOnly, "elsewhere.example"); s != nil || c != nil {
		t.Fatalf("chain-only check: server %v, client %v", s, c)
	}
	// ...but the chain still is: a server of another CA is refused.
	otherSrv, _ := ServerConfig(Files{CA: filepath.Join(dir, CAFile), Cert: Paths(other, "client").Cert, Key: Paths(other, "client").Key})
	if _, c := handshake(t, otherSrv, chainOnly, "x"); c == nil {
		t.Fatal("chain-only check accepted a certificate from another CA")
	}
}
