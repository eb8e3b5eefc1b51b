package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCloneName(t *testing.T) {
	valid := []string{"a", "A-z_09", "night-shift", strings.Repeat("x", 64)}
	for _, name := range valid {
		if err := ValidateCloneName(name); err != nil {
			t.Errorf("ValidateCloneName(%q) = %v, want ok", name, err)
		}
	}
	invalid := []string{"", "../x", "a/b", "..", ".", "a b", "é", "x\n", strings.Repeat("x", 65), "/abs"}
	for _, name := range invalid {
		err := ValidateCloneName(name)
		if !errors.Is(err, ErrInvalidClone) {
			t.Errorf("ValidateCloneName(%q) = %v, want ErrInvalidClone", name, err)
		}
	}
}

func TestResolveIn(t *testing.T) {
	base := "/home/u/.marianne"
	p, err := ResolveIn(base, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Paths{
		BaseHome: base, Home: base, ConfigFile: base + "/conductor.toml", Socket: base + "/conductor.sock",
		PIDFile: base + "/conductor.pid", Log: base + "/conductor.log", State: base + "/state.db",
		Instruments: base + "/instruments", SheetLogs: base + "/logs",
	}
	if p != want {
		t.Errorf("ResolveIn(base, \"\") =\n%+v\nwant\n%+v", p, want)
	}

	c, err := ResolveIn(base, "night")
	if err != nil {
		t.Fatal(err)
	}
	home := base + "/clones/night"
	want = Paths{
		BaseHome: base, Home: home, Clone: "night",
		ConfigFile:  base + "/conductor.toml", // clones read the base config
		Instruments: base + "/instruments",    // and share the user's instruments
		Socket:      home + "/conductor.sock", PIDFile: home + "/conductor.pid", Log: home + "/conductor.log",
		State: home + "/state.db", SheetLogs: home + "/logs",
	}
	if c != want {
		t.Errorf("ResolveIn(base, night) =\n%+v\nwant\n%+v", c, want)
	}

	for _, bad := range []string{"../x", "a/b"} {
		if _, err := ResolveIn(base, bad); !errors.Is(err, ErrInvalidClone) {
			t.Errorf("ResolveIn(base, %q) = %v, want ErrInvalidClone", bad, err)
		}
	}
}

func TestResolveInSocketPathTooLong(t *testing.T) {
	const sock = "/conductor.sock"
	fits := "/" + strings.Repeat("h", MaxSocketPath-len(sock)-1)
	if p, err := ResolveIn(fits, ""); err != nil || len(p.Socket) != MaxSocketPath {
		t.Fatalf("a socket path of exactly %d bytes: %v", MaxSocketPath, err)
	}
	long := fits + "h"
	_, err := ResolveIn(long, "")
	if err == nil {
		t.Fatalf("a socket path of %d bytes was accepted", MaxSocketPath+1)
	}
	for _, want := range []string{long + sock, "use a shorter MARIANNE_HOME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should mention %q", err, want)
		}
	}
	// A clone's deeper path can be the one that is too long.
	base := "/" + strings.Repeat("h", 80)
	if _, err := ResolveIn(base, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveIn(base, "a-long-clone-name"); err == nil || !strings.Contains(err.Error(), "clones/a-long-clone-name/conductor.sock") {
		t.Errorf("too long clone socket path: %v", err)
	}
}

func TestEnsureHome(t *testing.T) {
	base := filepath.Join(t.TempDir(), "home")
	p, err := ResolveIn(base, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureHome(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{base, filepath.Join(base, "clones"), p.Home} {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a 0700 directory", dir, fi.Mode(), err)
		}
	}
	// A symlinked home is refused, not followed.
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.Mkdir(target, 0o700)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	lp, _ := ResolveIn(link, "")
	if err := lp.EnsureHome(); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("EnsureHome on a symlink: %v", err)
	}
}
