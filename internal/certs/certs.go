// Package certs owns who may talk to a conductor's protoactor remote
// endpoint: it guards the gRPC stream protoactor's remote reads from
// (guard.go) and binds peers to the addresses they announce (peers.go). The
// CA, certificates and TLS configurations are package pki's, named here too
// so the conductor's side reads them from one place. It never dials, listens
// or prints.
package certs

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/mzt-dev/mzt/internal/pki"
)

const (
	ReadOnlyOU    = pki.ReadOnlyOU
	RoleFull      = pki.RoleFull
	RoleReadOnly  = pki.RoleReadOnly
	RolePlaintext = pki.RolePlaintext
	CAFile        = pki.CAFile
	CAKeyFile     = pki.CAKeyFile
)

var ErrExists = pki.ErrExists

type (
	CertPaths    = pki.CertPaths
	IssueOptions = pki.IssueOptions
	Files        = pki.Files
)

func Paths(dir, name string) CertPaths                       { return pki.Paths(dir, name) }
func InitCA(dir, commonName string, force bool) error        { return pki.InitCA(dir, commonName, force) }
func Issue(dir string, opts IssueOptions) (CertPaths, error) { return pki.Issue(dir, opts) }
func ServerConfig(f Files) (*tls.Config, error)              { return pki.ServerConfig(f) }
func ClientConfig(f Files, checkHost bool) (*tls.Config, error) {
	return pki.ClientConfig(f, checkHost)
}
func Role(cert *x509.Certificate) string { return pki.Role(cert) }
