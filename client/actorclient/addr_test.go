package actorclient

import "testing"

// Replies come back to the loopback of the family the conductor was
// reached on: a conductor on [::1] may have no IPv4 loopback to dial.
func TestLocalHostForLoopback(t *testing.T) {
	for peer, want := range map[string]string{
		"127.0.0.1:7400": "127.0.0.1",
		"localhost:7400": "127.0.0.1",
		"[::1]:7400":     "::1",
		"no port":        "127.0.0.1",
	} {
		if got := localHostFor(peer); got != want {
			t.Errorf("localHostFor(%q) = %q, want %q", peer, got, want)
		}
	}
}
