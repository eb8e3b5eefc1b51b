package daemon

import (
	"crypto/tls"
	"fmt"
	"path/filepath"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/certs"
)

// apiTLS builds the mutual TLS of [api] listen from its certificate files
// ([remote]'s when [api] names none), relative to the config file's folder
// (else the home) like [remote]'s.
func apiTLS(cfg *config.Config, opts Options) func() (*tls.Config, error) {
	abs := configRelative(opts)
	ca, cert, key := cfg.API.Files(cfg.Remote)
	return func() (*tls.Config, error) {
		c, err := certs.ServerConfig(certs.Files{CA: abs(ca), Cert: abs(cert), Key: abs(key)})
		if err != nil {
			return nil, fmt.Errorf("api endpoint: %w", err)
		}
		return c, nil
	}
}

// configRelative resolves the file names a config file holds (certificates,
// keys) against that file's folder, else the home; absolute names stay.
func configRelative(opts Options) func(string) string {
	base := opts.Paths.Home
	if opts.Load.File != "" {
		base = filepath.Dir(opts.Load.File)
	}
	return func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
}
