package client

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// Default follows MZT_CLONE as the mzt CLI does: a program started under
// MZT_CLONE=night must not talk to the main conductor behind the user's back.
func TestDefaultTargetFollowsMZTClone(t *testing.T) {
	home := t.TempDir()
	t.Setenv("MARIANNE_HOME", home)
	cases := []struct {
		clone, wantSocket, wantErr string
	}{
		{clone: "", wantSocket: filepath.Join(home, "api.sock")},
		{clone: "night", wantSocket: filepath.Join(home, "clones", "night", "api.sock")},
		{clone: "../x", wantErr: "clone"},
	}
	for _, tc := range cases {
		t.Setenv("MZT_CLONE", tc.clone)
		_, err := New(context.Background(), Default())
		if err == nil {
			t.Fatalf("MZT_CLONE=%q: New found a conductor in an empty home", tc.clone)
		}
		if tc.wantErr != "" {
			if errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("MZT_CLONE=%q: %v, want a refused clone name", tc.clone, err)
			}
			continue
		}
		if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), tc.wantSocket) {
			t.Errorf("MZT_CLONE=%q: %v, want not running at %s", tc.clone, err, tc.wantSocket)
		}
	}
}
