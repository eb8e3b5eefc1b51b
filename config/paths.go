// Package config owns everything a conductor is configured by: the paths of its
// files (and of its clones), and conductor.toml with its defaults and profiles.
// Scores and instrument profiles live in the subpackages score and instrument.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// Paths are the files one conductor (the default one or a clone) uses.
type Paths struct {
	BaseHome    string // $MARIANNE_HOME or ~/.marianne; clones live below it
	Home        string // BaseHome, or BaseHome/clones/NAME for a clone
	Clone       string // "" for the default conductor
	ConfigFile  string // the base home's conductor.toml: clones read it too
	Socket      string
	APISocket   string // the Conductor service (connect-go), beside Socket
	PIDFile     string
	Log         string
	State       string // SQLite database
	Instruments string // user instrument profiles (the base home's, shared by clones)
	SheetLogs   string // captured sheet output
}

// MaxSocketPath is the longest path a Unix socket address can hold on Linux
// (sun_path is 108 bytes including the terminating NUL).
const MaxSocketPath = 107

var cloneNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ErrInvalidClone is returned for clone names outside [A-Za-z0-9_-]{1,64}.
var ErrInvalidClone = errors.New("invalid clone name")

// ValidateCloneName refuses anything that could escape the clones folder.
func ValidateCloneName(name string) error {
	if !cloneNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1-64 characters of A-Z a-z 0-9 _ -", ErrInvalidClone, name)
	}
	return nil
}

// BaseHome is $MARIANNE_HOME, else $HOME/.marianne.
func BaseHome() (string, error) {
	if h := os.Getenv("MARIANNE_HOME"); h != "" {
		return filepath.Abs(h)
	}
	userHome, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory (set MARIANNE_HOME): %w", err)
	}
	return filepath.Join(userHome, ".marianne"), nil
}

// Resolve computes the paths of the default conductor (clone == "") or of a
// clone. It touches nothing on disk.
func Resolve(clone string) (Paths, error) {
	base, err := BaseHome()
	if err != nil {
		return Paths{}, err
	}
	return ResolveIn(base, clone)
}

// ResolveIn is Resolve with an explicit base home.
func ResolveIn(base, clone string) (Paths, error) {
	home := base
	if clone != "" {
		if err := ValidateCloneName(clone); err != nil {
			return Paths{}, err
		}
		home = filepath.Join(base, "clones", clone)
	}
	p := Paths{
		BaseHome:    base,
		Home:        home,
		Clone:       clone,
		ConfigFile:  filepath.Join(base, "conductor.toml"),
		Socket:      filepath.Join(home, "conductor.sock"),
		APISocket:   filepath.Join(home, "api.sock"),
		PIDFile:     filepath.Join(home, "conductor.pid"),
		Log:         filepath.Join(home, "conductor.log"),
		State:       filepath.Join(home, "state.db"),
		Instruments: filepath.Join(base, "instruments"),
		SheetLogs:   filepath.Join(home, "logs"),
	}
	if len(p.Socket) > MaxSocketPath {
		return Paths{}, fmt.Errorf("socket path %s is %d bytes, longer than the OS limit of %d: use a shorter MARIANNE_HOME",
			p.Socket, len(p.Socket), MaxSocketPath)
	}
	return p, nil
}

// EnsureHome creates the home (and the base home for a clone) with mode 0700.
// An existing one must be a directory the user can trust (CheckTrusted): a
// symlink to one is followed, a directory of another user or one that group
// or others can write is refused. An existing instruments folder is checked
// the same way, so that a start refuses what a run would.
func (p Paths) EnsureHome() error {
	dirs := []string{p.BaseHome}
	if p.Home != p.BaseHome {
		dirs = append(dirs, filepath.Join(p.BaseHome, "clones"), p.Home)
	}
	for _, dir := range dirs {
		if err := ensurePrivateDir(dir); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(p.Instruments); err == nil {
		if err := CheckTrusted(p.Instruments); err != nil {
			return err
		}
	}
	return nil
}

func ensurePrivateDir(dir string) error {
	_, err := os.Lstat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		// MkdirAll honours the umask; make sure of 0700 whatever it was.
		return os.Chmod(dir, 0o700)
	case err != nil:
		return fmt.Errorf("inspect %s: %w", dir, err)
	}
	if err := CheckTrusted(dir); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("inspect %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("refusing %s: it is not a directory", dir)
	case fi.Mode().Perm() != 0o700:
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restrict %s to 0700: %w", dir, err)
		}
	}
	return nil
}

// RefuseSymlink returns an error when path exists and is a symlink: the socket
// and PID file are never followed through one.
func RefuseSymlink(path string) error {
	fi, err := os.Lstat(path)
	if err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("refusing %s: it is a symlink", path)
	}
	return nil
}
