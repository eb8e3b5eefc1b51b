package config

import (
	"fmt"
	"net"
)

// API is the Conductor service's network listener (it is always served on
// the home's api.sock). It requires mutual TLS: certificates default to
// [remote]'s, so one `mzt certs init` serves both endpoints.
type API struct {
	Listen string `toml:"listen" comment:"HOST:PORT of the Conductor service (gRPC, gRPC-Web, Connect JSON) over mutual TLS; empty = api.sock only"`
	CA     string `toml:"ca" comment:"CA certificate (PEM); default: remote.ca"`
	Cert   string `toml:"cert" comment:"this conductor's certificate (PEM); default: remote.cert"`
	Key    string `toml:"key" comment:"its private key (PEM); default: remote.key"`
}

// Files are the API's certificate files, [remote]'s where [api] names none.
func (a API) Files(r Remote) (ca, cert, key string) {
	if a.CA == "" && a.Cert == "" && a.Key == "" {
		return r.CA, r.Cert, r.Key
	}
	return a.CA, a.Cert, a.Key
}

func (a API) problems(r Remote) []string {
	if a.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(a.Listen); err != nil {
		return []string{fmt.Sprintf("api.listen %q: want HOST:PORT", a.Listen)}
	}
	ca, cert, key := a.Files(r)
	if ca == "" || cert == "" || key == "" {
		return []string{fmt.Sprintf("api.listen %q needs mutual TLS: set api.ca, api.cert and api.key (or remote's; `mzt certs init` creates them)", a.Listen)}
	}
	return nil
}
