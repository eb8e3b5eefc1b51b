package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
)

// client.Remote(NAME) reads client.toml, dials the named conductor's
// service over mutual TLS with its certificates and negotiates.
func TestNewRemoteFromClientToml(t *testing.T) {
	home := t.TempDir()
	dir := makeCerts(t, home)
	srvCfg, err := certs.ServerConfig(certs.Files{CA: filepath.Join(dir, certs.CAFile),
		Cert: filepath.Join(dir, "host.pem"), Key: filepath.Join(dir, "host.key")})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(messagesconnect.NewConductorHandler(&fakeConductor{jobs: map[string]*messages.SubmitJobRequest{}}))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.TLS = srvCfg
	srv.StartTLS()
	defer srv.Close()

	toml := "[[remote]]\nname = \"b\"\naddress = \"" + srv.Listener.Addr().String() + "\"\n"
	if err := os.WriteFile(filepath.Join(home, "client.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MARIANNE_HOME", home)
	c, err := client.New(context.Background(), client.Remote("b"))
	if err != nil {
		t.Fatalf("New(Remote(b)): %v", err)
	}
	defer c.Close()
	if c.Version != "fake" || c.Protocol != messages.ProtocolVersion {
		t.Errorf("negotiated %q protocol %d", c.Version, c.Protocol)
	}
}

// makeCerts makes a CA, a host certificate for 127.0.0.1 and a client
// certificate in home/certs, as `mzt certs init` does.
func makeCerts(t *testing.T, home string) string {
	t.Helper()
	dir := filepath.Join(home, "certs")
	if err := certs.InitCA(dir, "test CA", false); err != nil {
		t.Fatal(err)
	}
	for _, o := range []certs.IssueOptions{{Name: "host", Hosts: []string{"127.0.0.1"}}, {Name: "client"}} {
		if _, err := certs.Issue(dir, o); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
