package config

import (
	"net"
	"net/url"
	"os"
	"time"
)

// MinLeaseTTL is the shortest fleet lease: etcd itself refuses shorter ones
// (its floor follows the election timeout), and a member must be able to
// renew it a few times within one TTL on a loaded machine.
const MinLeaseTTL = 2 * time.Second

// Member reports whether this conductor joins a fleet.
func (f Fleet) Member() bool { return len(f.Etcd) > 0 }

// MemberName is the name this conductor registers under.
func (f Fleet) MemberName() string {
	if f.Name != "" {
		return f.Name
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

func (f Fleet) membershipProblems() []string {
	var out []string
	for _, e := range f.Etcd {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			out = append(out, "fleet.etcd "+quote(e)+": want http(s)://HOST:PORT")
		}
	}
	if (f.Cert == "") != (f.Key == "") {
		out = append(out, "fleet.cert and fleet.key go together")
	}
	if f.Advertise != "" {
		if _, _, err := net.SplitHostPort(f.Advertise); err != nil {
			out = append(out, "fleet.advertise "+quote(f.Advertise)+": want HOST:PORT")
		}
	}
	if f.Name != "" && !validMemberName(f.Name) {
		out = append(out, "fleet.name "+quote(f.Name)+": use letters, digits, '.', '-' and '_' (at most 64)")
	}
	return out
}

func quote(s string) string { return `"` + s + `"` }

// validMemberName keeps names safe inside etcd keys and file names.
func validMemberName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r == '.' || r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}
