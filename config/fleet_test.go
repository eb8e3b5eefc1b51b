package config

import (
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

func TestFleetMembershipProblems(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"not a member", func(c *Config) {}, ""},
		{"a member over TLS", func(c *Config) {
			c.Fleet.Etcd, c.Fleet.CA, c.Fleet.Cert, c.Fleet.Key = []string{"https://10.0.0.1:2379"}, "ca.pem", "m.pem", "m.key"
		}, ""},
		{"not a URL", func(c *Config) { c.Fleet.Etcd = []string{"10.0.0.1:2379"} }, `fleet.etcd "10.0.0.1:2379": want http(s)://HOST:PORT`},
		{"a certificate without its key", func(c *Config) { c.Fleet.Etcd, c.Fleet.Cert = []string{"https://e:2379"}, "m.pem" },
			"fleet.cert and fleet.key go together"},
		{"a name unsafe in keys and files", func(c *Config) { c.Fleet.Name = "a/b" }, `fleet.name "a/b": use letters`},
		{"advertise not HOST:PORT", func(c *Config) { c.Fleet.Advertise = "host" }, `fleet.advertise "host": want HOST:PORT`},
		{"lease below its floor", func(c *Config) { c.Fleet.LeaseTTL = strict.Duration(time.Second) },
			`fleet.lease_ttl = "1s" is below its floor of 2s`},
		{"claim interval below its floor", func(c *Config) { c.Fleet.ClaimInterval = strict.Duration(10 * time.Millisecond) },
			`fleet.claim_interval = "10ms" is below its floor of 100ms`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.edit(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected problem: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want a problem containing %q", err, tt.want)
			}
		})
	}
}

func TestFleetMemberName(t *testing.T) {
	f := Defaults().Fleet
	if f.Member() {
		t.Error("a conductor with no etcd endpoints is no fleet member")
	}
	if f.MemberName() == "" {
		t.Error("the default name is the host name, never empty")
	}
	f.Name = "m1"
	if f.MemberName() != "m1" {
		t.Errorf("MemberName = %q", f.MemberName())
	}
}
