package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// conductorBinary is the conductor's executable, installed beside mzt. The
// CLI links none of the conductor; only this binary does.
const conductorBinary = "mzt-conductor"

// locateConductor picks the conductor binary for the mzt at self: the one
// beside it first (a build in bin/ runs its own conductor, whatever PATH
// holds), else the first on PATH. The error names both places looked in.
func locateConductor(self string, isExec func(string) bool, lookPath func(string) (string, error)) (string, error) {
	var beside string
	if self != "" {
		beside = filepath.Join(filepath.Dir(self), conductorBinary)
		if isExec(beside) {
			return beside, nil
		}
	}
	if p, err := lookPath(conductorBinary); err == nil {
		return p, nil
	}
	hint := "go build -o bin/ ./cmd/... (it builds mzt and " + conductorBinary + " side by side)"
	if beside == "" {
		return "", failf(exitFailed, hint, "no %s binary on PATH", conductorBinary)
	}
	return "", failf(exitFailed, hint, "no %s binary: not at %s nor on PATH", conductorBinary, beside)
}

// isExecutableFile reports whether path is a regular file someone may execute.
func isExecutableFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// conductorExe is the executable that runs a conductor: this one when it
// links the conductor (mzt-conductor itself), else the mzt-conductor binary.
func (g *Globals) conductorExe() (string, error) {
	self, err := os.Executable()
	if g.env.RunConductor != nil {
		if err != nil {
			return "", fmt.Errorf("find this executable: %w", err)
		}
		return self, nil
	}
	if err != nil {
		self = ""
	}
	return locateConductor(self, isExecutableFile, exec.LookPath)
}

// conductorEnv is the environment a conductor child runs with: the home and
// clone this command resolved, whatever the caller's environment said.
func (g *Globals) conductorEnv() []string {
	return append(os.Environ(), "MZT_CLONE="+g.paths.Clone, "MARIANNE_HOME="+g.paths.BaseHome)
}

// execForeground replaces this process with `mzt-conductor start
// --foreground`, so signals, stdio and the exit code are the conductor's own.
func (c *startFlags) execForeground(g *Globals) error {
	exe, err := g.conductorExe()
	if err != nil {
		return err
	}
	args := append([]string{conductorBinary, "start", "--foreground"}, c.args()...)
	if err := syscall.Exec(exe, args, g.conductorEnv()); err != nil {
		return fmt.Errorf("run %s: %w", exe, err)
	}
	return nil // not reached
}

// args are the flags that carry over to the conductor's own command line.
func (c *startFlags) args() []string {
	var args []string
	if c.Config != "" {
		args = append(args, "--config="+c.Config)
	}
	if c.Profile != "" {
		args = append(args, "--profile="+c.Profile)
	}
	if c.LogLevel != "" {
		args = append(args, "--log-level="+c.LogLevel)
	}
	return args
}

// conductorBinaryVersion reads the conductor binary's version from its
// build information or, when that does not settle it, asks the binary; ""
// and an error when it cannot be found or does not answer within two
// seconds.
func (g *Globals) conductorBinaryVersion() (string, error) {
	exe, err := g.conductorExe()
	if err != nil {
		return "", err
	}
	if v, ok := readVersionStamp(exe); ok {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(g.ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "version", "--json").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", exe, err)
	}
	return parseVersionJSON(out)
}

// parseVersionJSON takes the version out of `version --json` output
// without trusting more of it than one short string.
func parseVersionJSON(out []byte) (string, error) {
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" || len(v.Version) > 100 {
		return "", fmt.Errorf("unreadable version output %q", strings.TrimSpace(string(out[:min(len(out), 100)])))
	}
	return v.Version, nil
}
