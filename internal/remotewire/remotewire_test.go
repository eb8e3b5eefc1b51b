package remotewire

import "testing"

func TestSplitListen(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port int
		bad  bool
	}{
		{in: "127.0.0.1:7400", host: "127.0.0.1", port: 7400},
		{in: "[::1]:7400", host: "::1", port: 7400},
		{in: "[fe80::1%eth0]:0", host: "fe80::1%eth0", port: 0},
		{in: "::1", host: "::1"},
		{in: "[::1]", host: "::1"},
		{in: "host.example", host: "host.example"},
		{in: "", bad: true},
		{in: "a:b:c", bad: true},
		{in: "h:99999", bad: true},
		{in: "h:x", bad: true},
	} {
		host, port, err := SplitListen(tc.in)
		if tc.bad != (err != nil) || host != tc.host || port != tc.port {
			t.Errorf("SplitListen(%q) = %q, %d, %v; want %q, %d, error %v", tc.in, host, port, err, tc.host, tc.port, tc.bad)
		}
	}
}

// protoactor listens on Host:Port joined by a colon: an IPv6 host keeps its
// brackets there.
func TestConfigListensOnIPv6(t *testing.T) {
	for in, want := range map[string]string{"[::1]:7400": "[::1]:7400", "::1": "[::1]:0", "10.0.0.1:1": "10.0.0.1:1"} {
		c, err := Config(Settings{Listen: in})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Address(); got != want {
			t.Errorf("listen %q: protoactor listens on %q, want %q", in, got, want)
		}
	}
}
