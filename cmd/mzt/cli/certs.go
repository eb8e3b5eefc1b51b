package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/internal/pki"
)

// Certs is `mzt certs`: the fleet's private CA and the certificates it signs.
type Certs struct {
	Init  CertsInitCmd  `cmd:"" help:"Create a CA, this host's certificate and a client certificate."`
	Issue CertsIssueCmd `cmd:"" help:"Issue a certificate signed by the CA (for another host or client)."`
}

// CertsInitCmd is `mzt certs init`.
type CertsInitCmd struct {
	Dir   string   `help:"Directory to write to (default <home>/certs)." type:"path" placeholder:"DIR"`
	Host  []string `help:"Names and IP addresses this conductor is reached at (repeatable; default: this host name, localhost, 127.0.0.1, ::1)." placeholder:"HOST"`
	Force bool     `help:"Replace an existing CA: every certificate it signed stops being trusted."`
}

// CertsIssueCmd is `mzt certs issue NAME`.
type CertsIssueCmd struct {
	Name     string   `arg:"" help:"Certificate name: its common name and file name (NAME.pem, NAME.key)."`
	Dir      string   `help:"Directory of the CA, written to as well (default <home>/certs)." type:"path" placeholder:"DIR"`
	Host     []string `help:"Names and IP addresses the holder is reached at, for a conductor's certificate (repeatable)." placeholder:"HOST"`
	ReadOnly bool     `name:"read-only" help:"Allow only read requests (status, list, logs, events) with this certificate."`
}

func (g *Globals) certsDir(dir string) string {
	if dir != "" {
		return dir
	}
	return config.CertsDir(g.paths.BaseHome)
}

func defaultHosts() []string {
	hosts := []string{}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	return append(hosts, "localhost", "127.0.0.1", "::1")
}

// hostList accepts repeated and comma-separated --host values.
func hostList(in []string) []string {
	var out []string
	for _, h := range in {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (c *CertsInitCmd) Run(g *Globals) error {
	dir := g.certsDir(c.Dir)
	hosts := hostList(c.Host)
	if len(hosts) == 0 {
		hosts = defaultHosts()
	}
	if err := pki.InitCA(dir, "mzt CA", c.Force); err != nil {
		if errors.Is(err, pki.ErrExists) {
			return failf(exitFailed, "mzt certs issue NAME signs more certificates with it; --force replaces it",
				"a CA already exists: %v", err)
		}
		return err
	}
	host, err := pki.Issue(dir, pki.IssueOptions{Name: "host", Hosts: hosts})
	if err != nil {
		return err
	}
	cl, err := pki.Issue(dir, pki.IssueOptions{Name: "client"})
	if err != nil {
		return err
	}
	g.printf("created CA                 %s/%s (key %s)\n", dir, pki.CAFile, pki.CAKeyFile)
	g.printf("created host certificate   %s for %s\n", host.Cert, strings.Join(hosts, ", "))
	g.printf("created client certificate %s\n", cl.Cert)
	g.printf("\nTo serve other hosts, add to conductor.toml and restart:\n")
	g.printf("  [remote]\n  listen    = \"0.0.0.0:7300\"\n  advertise = \"%s:7300\"\n", advertiseHost(hosts))
	g.printf("  ca        = %q\n  cert      = %q\n  key       = %q\n", dir+"/"+pki.CAFile, host.Cert, host.Key)
	return nil
}

// advertiseHost is the first host that is neither loopback nor a wildcard.
func advertiseHost(hosts []string) string {
	for _, h := range hosts {
		if !config.IsLoopback(h) {
			if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
				return "[" + h + "]"
			}
			return h
		}
	}
	return hosts[0]
}

func (c *CertsIssueCmd) Run(g *Globals) error {
	if err := config.ValidateCloneName(c.Name); err != nil || c.Name == "ca" {
		return failf(exitUsage, "", "certificate name %q: use 1-64 characters of A-Z a-z 0-9 _ - (and not \"ca\")", c.Name)
	}
	dir := g.certsDir(c.Dir)
	p, err := pki.Issue(dir, pki.IssueOptions{Name: c.Name, Hosts: hostList(c.Host), ReadOnly: c.ReadOnly})
	if err != nil {
		return failf(exitFailed, "mzt certs init creates the CA", "%v", err)
	}
	role := "full access"
	if c.ReadOnly {
		role = "read-only: status, list, logs, events"
	}
	g.printf("created certificate %s (key %s), %s\n", p.Cert, p.Key, role)
	if hosts := hostList(c.Host); len(hosts) > 0 {
		g.printf("  for %s\n", strings.Join(hosts, ", "))
	}
	fmt.Fprintf(g.env.Stdout, "Copy %s/%s, %s and %s to the host or client that will use them.\n", dir, pki.CAFile, p.Cert, p.Key)
	return nil
}
