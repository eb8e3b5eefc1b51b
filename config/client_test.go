package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadClientDefaultsAndTargets(t *testing.T) {
	home := t.TempDir()
	c, err := LoadClient(home)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Timeout) != DefaultRemoteTimeout {
		t.Errorf("timeout %v", c.Timeout)
	}
	// No certificates anywhere: plaintext.
	tg, err := c.Target("127.0.0.1:7300")
	if err != nil || tg.CA != "" || tg.Address != "127.0.0.1:7300" {
		t.Fatalf("plain target %+v, %v", tg, err)
	}
	// `mzt certs init` files are picked up by default.
	os.MkdirAll(CertsDir(home), 0o700)
	os.WriteFile(filepath.Join(CertsDir(home), "ca.pem"), nil, 0o600)
	tg, _ = c.Target("127.0.0.1:7300")
	if tg.CA != filepath.Join(home, "certs", "ca.pem") || tg.Cert != filepath.Join(home, "certs", "client.pem") {
		t.Fatalf("default certificates %+v", tg)
	}
	if _, err := c.Target("nohost"); !errors.Is(err, ErrUnknownRemote) {
		t.Fatalf("unknown remote: %v", err)
	}
}

func TestLoadClientNamedRemotes(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ClientFile), []byte(`
ca = "/etc/mzt/ca.pem"
cert = "mine.pem"
key = "mine.key"
timeout = "2s"
[[remote]]
name = "b"
address = "b.example:7300"
[[remote]]
name = "ro"
address = "b.example:7300"
ca = "ca.pem"
cert = "viewer.pem"
key = "viewer.key"
`), 0o600)
	c, err := LoadClient(home)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Timeout) != 2*time.Second {
		t.Errorf("timeout %v", c.Timeout)
	}
	tg, err := c.Target("b")
	if err != nil || tg.Address != "b.example:7300" || tg.CA != "/etc/mzt/ca.pem" || tg.Cert != filepath.Join(home, "mine.pem") {
		t.Fatalf("b: %+v %v", tg, err)
	}
	tg, _ = c.Target("ro")
	if tg.Cert != filepath.Join(home, "viewer.pem") || tg.CA != filepath.Join(home, "ca.pem") {
		t.Fatalf("ro: %+v", tg)
	}
}

func TestLoadClientStrict(t *testing.T) {
	for name, src := range map[string]string{
		"unknown key":  "tiemout = \"2s\"\n",
		"bad address":  "[[remote]]\nname = \"b\"\naddress = \"nope\"\n",
		"no name":      "[[remote]]\naddress = \"a:1\"\n",
		"bad duration": "timeout = 5\n",
	} {
		home := t.TempDir()
		os.WriteFile(filepath.Join(home, ClientFile), []byte(src), 0o600)
		_, err := LoadClient(home)
		if err == nil || !strings.Contains(err.Error(), ClientFile) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
}
