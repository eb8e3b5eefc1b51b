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
// Only cmd/mzt-conductor wires the two together.
func TestDeps(t *testing.T) {
	deps := goListDeps(t, module+"/cmd/mzt/cli")
	// The listing must be real before its absence of actors means anything.
	for _, want := range []string{module + "/cmd/mzt/cli", module + "/client", module + "/messages"} {
		if !slices.Contains(deps, want) {
			t.Fatalf("go list -deps does not show %s: %v", want, deps)
		}
	}
	for _, dep := range deps {
		if dep == module+"/actors" || strings.HasPrefix(dep, module+"/actors/") {
			t.Errorf("the CLI depends on %s: only cmd/mzt-conductor may import the actors", dep)
		}
	}
}

// TestBinaryDeps keeps the conductor out of the mzt binary: every command
// pays for what it links at each start (package init, loading the binary),
// and scripts run mzt many times a second. The conductor binary must still
// link what it runs, or the check would pass on a broken split.
func TestBinaryDeps(t *testing.T) {
	// protoactor (and with it gRPC and Prometheus' client) is the
	// conductor's and the protoactor client's, which mzt hands over to
	// mzt-conductor; a gRPC client alone would drag in its server side too.
	forbidden := []string{module + "/actors/", "modernc.org/sqlite", "github.com/asynkron/protoactor-go",
		"google.golang.org/grpc", "github.com/prometheus/", module + "/client/actorclient", module + "/internal/certs",
		"go.etcd.io/", module + "/internal/fleet"}
	mzt := goListDeps(t, module+"/cmd/mzt")
	if !slices.Contains(mzt, module+"/cmd/mzt/cli") {
		t.Fatalf("go list -deps cmd/mzt does not show the CLI: %v", mzt)
	}
	for _, dep := range mzt {
		for _, f := range forbidden {
			if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, strings.TrimSuffix(f, "/")+"/") {
				t.Errorf("the mzt binary links %s: only mzt-conductor may", dep)
			}
		}
	}
	conductor := goListDeps(t, module+"/cmd/mzt-conductor")
	for _, want := range []string{module + "/actors/daemon", "modernc.org/sqlite", module + "/cmd/mzt/cli",
		module + "/client/actorclient", "github.com/asynkron/protoactor-go/remote"} {
		if !slices.Contains(conductor, want) {
			t.Errorf("mzt-conductor does not link %s", want)
		}
	}
}

func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}
