package messages_test

import (
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

func TestNegotiate(t *testing.T) {
	cur := uint32(messages.ProtocolVersion)
	for _, tc := range []struct {
		name     string
		min, max uint32
		want     uint32
	}{
		{"an older client that names no range", 0, 0, 1},
		{"the same range", messages.MinProtocolVersion, cur, cur},
		{"a newer client: our newest", 1, cur + 5, cur},
		{"only a maximum", 0, cur, cur},
		{"a client too new for us", cur + 1, cur + 3, 0},
		{"an inverted range", 3, 2, 0},
		{"only a minimum", 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := messages.Negotiate(tc.min, tc.max); got != tc.want {
				t.Errorf("Negotiate(%d, %d) = %d, want %d", tc.min, tc.max, got, tc.want)
			}
		})
	}
}
