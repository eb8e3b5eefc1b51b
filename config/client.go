package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

// ClientConfig is <home>/client.toml: how this machine's CLI reaches remote
// conductors (`--remote`, `mzt fleet status`). Every key is optional.
type ClientConfig struct {
	CA      string          `toml:"ca" comment:"CA certificate (PEM); default <home>/certs/ca.pem when it exists"`
	Cert    string          `toml:"cert" comment:"client certificate (PEM); default <home>/certs/client.pem"`
	Key     string          `toml:"key" comment:"its key; default <home>/certs/client.key"`
	Listen  string          `toml:"listen" comment:"HOST or HOST:PORT conductors dial back to with replies; default: the local address that routes to the conductor, ephemeral port"`
	Timeout strict.Duration `toml:"timeout" comment:"how long a remote request may wait for its answer"`
	// Transport is how --remote and the fleet reach conductors: "api" (the
	// Conductor service at their [api] listen) or "protoactor" (their
	// [remote] listen, which dials back to this host).
	Transport string        `toml:"transport" comment:"api (the conductors' [api] listen, default) | protoactor (their [remote] listen; they dial back)"`
	Remote    []NamedRemote `toml:"remote,omitempty"`

	dir string // relative paths are relative to this (the file's directory)
}

// NamedRemote is a conductor `--remote NAME` selects; its certificate
// files, when set, replace the top-level ones.
type NamedRemote struct {
	Name    string `toml:"name"`
	Address string `toml:"address" comment:"HOST:PORT of the conductor's [remote] listen"`
	CA      string `toml:"ca"`
	Cert    string `toml:"cert"`
	Key     string `toml:"key"`
	// Transport overrides the top-level transport for this remote.
	Transport string `toml:"transport"`
}

// ClientFile is the client config's name in the (base) home.
const ClientFile = "client.toml"

// DefaultRemoteTimeout is the client config's timeout default.
const DefaultRemoteTimeout = 10 * time.Second

// CertsDir is where `mzt certs` writes by default.
func CertsDir(home string) string { return filepath.Join(home, "certs") }

// LoadClient reads home/client.toml strictly; a missing file gives the
// defaults.
func LoadClient(home string) (*ClientConfig, error) {
	c := &ClientConfig{Timeout: strict.Duration(DefaultRemoteTimeout), dir: home}
	path := filepath.Join(home, ClientFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", path, err)
	default:
		if err := strict.Decode(path, data, c); err != nil {
			return nil, err
		}
	}
	if c.Timeout <= 0 {
		return nil, fmt.Errorf("%s: timeout must be a positive duration", path)
	}
	if !validTransport(c.Transport) {
		return nil, fmt.Errorf("%s: transport %q: want api or protoactor", path, c.Transport)
	}
	seen := map[string]bool{}
	for i, r := range c.Remote {
		if r.Name == "" || seen[r.Name] {
			return nil, fmt.Errorf("%s: remote[%d]: a unique name is required", path, i)
		}
		seen[r.Name] = true
		if _, _, err := net.SplitHostPort(r.Address); err != nil {
			return nil, fmt.Errorf("%s: remote %s: address %q: want HOST:PORT", path, r.Name, r.Address)
		}
		if !validTransport(r.Transport) {
			return nil, fmt.Errorf("%s: remote %s: transport %q: want api or protoactor", path, r.Name, r.Transport)
		}
	}
	return c, nil
}

// RemoteTarget is where one remote conductor is and how to authenticate.
// CA == "" means plaintext (only a loopback endpoint without TLS accepts it).
type RemoteTarget struct {
	Name, Address string
	CA, Cert, Key string
	Transport     string // TransportAPI or TransportProtoactor
}

// The transports of client.toml.
const (
	TransportAPI        = "api"
	TransportProtoactor = "protoactor"
)

func validTransport(t string) bool { return t == "" || t == TransportAPI || t == TransportProtoactor }

// ErrUnknownRemote means --remote named no remote of client.toml and is not HOST:PORT.
var ErrUnknownRemote = errors.New("unknown remote")

// Target resolves --remote: a name from client.toml, else HOST:PORT.
func (c *ClientConfig) Target(remote string) (RemoteTarget, error) {
	t := RemoteTarget{Name: remote, Address: remote, Transport: c.transport()}
	found := false
	for _, r := range c.Remote {
		if r.Name == remote {
			t.Address, found = r.Address, true
			t.CA, t.Cert, t.Key = c.path(r.CA), c.path(r.Cert), c.path(r.Key)
			if r.Transport != "" {
				t.Transport = r.Transport
			}
		}
	}
	if !found {
		if _, _, err := net.SplitHostPort(remote); err != nil {
			return t, fmt.Errorf("%w %q: not a name in %s and not HOST:PORT", ErrUnknownRemote, remote,
				filepath.Join(c.dir, ClientFile))
		}
	}
	if t.CA == "" {
		t.CA, t.Cert, t.Key = c.defaultFiles()
	}
	return t, nil
}

// Files returns the top-level certificate files (for the fleet): the
// configured ones, else the defaults under <home>/certs when present.
func (c *ClientConfig) defaultFiles() (ca, cert, key string) {
	if c.CA != "" {
		return c.path(c.CA), c.path(c.Cert), c.path(c.Key)
	}
	dir := CertsDir(c.dir)
	ca = filepath.Join(dir, "ca.pem")
	if _, err := os.Stat(ca); err != nil {
		return "", "", "" // no certificates: plaintext
	}
	return ca, filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
}

// FleetTarget is the target for a fleet peer: the top-level certificates.
func (c *ClientConfig) FleetTarget(name, address string) RemoteTarget {
	t := RemoteTarget{Name: name, Address: address, Transport: c.transport()}
	t.CA, t.Cert, t.Key = c.defaultFiles()
	return t
}

func (c *ClientConfig) transport() string {
	if c.Transport == "" {
		return TransportAPI
	}
	return c.Transport
}

func (c *ClientConfig) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}
