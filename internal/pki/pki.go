// Package pki makes the fleet's private CA and the certificates it signs
// (`mzt certs`), builds the TLS configurations of both ends of a remote
// connection and reads a peer's role from its verified certificate. It
// never dials, listens or prints, and links no RPC framework, so the mzt CLI
// can use it without linking the conductor's remote endpoint.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// ReadOnlyOU marks a certificate whose holder may only read (status, list,
// logs, events); `mzt certs issue --read-only` sets it.
const ReadOnlyOU = "mzt-read-only"

// Roles a peer can have.
const (
	RoleFull     = "full"
	RoleReadOnly = "read-only"
	// RolePlaintext is a peer on a loopback endpoint without TLS: any local
	// user could be it, so it may ask whether the conductor is up and no more.
	RolePlaintext = "plaintext"
)

// File names inside a certificate directory.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca.key"
)

// Validity of what `mzt certs` makes.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 2 * 365 * 24 * time.Hour
)

// ErrExists means init would overwrite a CA.
var ErrExists = errors.New("already exists")

// CertPaths are the PEM files of one certificate.
type CertPaths struct{ Cert, Key string }

// Paths names the certificate NAME in dir.
func Paths(dir, name string) CertPaths {
	return CertPaths{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+".key")}
}

// InitCA creates dir (0700) and a new CA in it (ECDSA P-256). It refuses to
// replace an existing CA unless force is set: every certificate it signed
// would stop being trusted.
func InitCA(dir, commonName string, force bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	caPath := filepath.Join(dir, CAFile)
	if _, err := os.Stat(caPath); err == nil && !force {
		return fmt.Errorf("%s %w", caPath, ErrExists)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"mzt"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return err
	}
	return writePEM(caPath, "CERTIFICATE", der)
}

// IssueOptions describe one certificate.
type IssueOptions struct {
	Name     string   // common name and file name
	Hosts    []string // DNS names and IP addresses (SANs) it may serve as
	ReadOnly bool     // OU mzt-read-only: read requests only
}

// Issue signs a certificate with the CA in dir and writes NAME.pem and
// NAME.key there (0600). Every certificate is good for both ends of a TLS
// connection, since each protoactor participant is a server and a client.
func Issue(dir string, opts IssueOptions) (CertPaths, error) {
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return CertPaths{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CertPaths{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return CertPaths{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: opts.Name, Organization: []string{"mzt"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if opts.ReadOnly {
		tmpl.Subject.OrganizationalUnit = []string{ReadOnlyOU}
	}
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return CertPaths{}, fmt.Errorf("sign certificate: %w", err)
	}
	p := Paths(dir, opts.Name)
	if err := writeKey(p.Key, key); err != nil {
		return CertPaths{}, err
	}
	if err := writePEM(p.Cert, "CERTIFICATE", der); err != nil {
		return CertPaths{}, err
	}
	return p, nil
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load the CA in %s (mzt certs init creates it): %w", dir, err)
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("CA key in %s is not ECDSA", dir)
	}
	return ca, key, nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	return writePEM(path, "PRIVATE KEY", der)
}

// writePEM writes atomically with mode 0600 (certificates too: nothing here
// needs to be readable by other users).
func writePEM(path, kind string, der []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if err = pem.Encode(tmp, &pem.Block{Type: kind, Bytes: der}); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Files are the three PEM files of one end of a mutual TLS connection.
type Files struct{ CA, Cert, Key string }

func (f Files) load() (*x509.CertPool, tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("load certificate %s: %w", f.Cert, err)
	}
	data, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, tls.Certificate{}, fmt.Errorf("%s holds no PEM certificate", f.CA)
	}
	return pool, pair, nil
}

// ServerConfig is the listening side: a client certificate signed by the CA
// is required (a plaintext or wrong-CA peer fails the handshake).
func ServerConfig(f Files) (*tls.Config, error) {
	pool, pair, err := f.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// ClientConfig is the dialling side. With checkHost the peer's certificate
// must name the host dialled (the CLI dialling a conductor). Without it only
// the chain is checked: a conductor dials back to the address a client
// advertised, which no certificate can be expected to name.
func ClientConfig(f Files, checkHost bool) (*tls.Config, error) {
	pool, pair, err := f.load()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, RootCAs: pool}
	if !checkHost {
		cfg.InsecureSkipVerify = true // the chain is verified below, against our CA only
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool)
		}
	}
	return cfg, nil
}

func verifyChain(raw [][]byte, pool *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("peer sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return fmt.Errorf("parse peer certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// Role is what a verified peer certificate allows.
func Role(cert *x509.Certificate) string {
	if cert == nil || slices.Contains(cert.Subject.OrganizationalUnit, ReadOnlyOU) {
		return RoleReadOnly
	}
	return RoleFull
}
