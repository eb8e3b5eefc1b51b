package cli

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/mzt-dev/mzt"

// TestDeps keeps the CLI out of the conductor: it may import the client,
// messages and config, never anything under actors/ (tailscale's TestDeps).
// Only cmd/mzt wires the two together.
func TestDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", module+"/cmd/mzt/cli").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	// The listing must be real before its absence of actors means anything.
	for _, want := range []string{module + "/cmd/mzt/cli", module + "/client", module + "/messages"} {
		if !slices.Contains(deps, want) {
			t.Fatalf("go list -deps does not show %s: %v", want, deps)
		}
	}
	for _, dep := range deps {
		if dep == module+"/actors" || strings.HasPrefix(dep, module+"/actors/") {
			t.Errorf("the CLI depends on %s: only cmd/mzt may import the actors", dep)
		}
	}
}
