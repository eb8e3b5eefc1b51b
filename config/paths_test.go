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
		BaseHome: base, Home: base, ConfigFile: base + "/conductor.toml", Socket: base + "/conductor.sock", APISocket: base + "/api.sock",
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
		Socket:      home + "/conductor.sock", APISocket: home + "/api.sock", PIDFile: home + "/conductor.pid", Log: home + "/conductor.log",
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
	// A home that is the user's symlink to the user's directory is followed.
	target := filepath.Join(t.TempDir(), "elsewhere")
	os.Mkdir(target, 0o755)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	lp, _ := ResolveIn(link, "")
	if err := lp.EnsureHome(); err != nil {
		t.Errorf("EnsureHome on a symlink to an own directory: %v", err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("symlinked home target: %v, %v; want 0700", fi.Mode(), err)
	}
	// One that others can write is refused, not repaired.
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	op, _ := ResolveIn(open, "")
	if err := op.EnsureHome(); err == nil || !strings.Contains(err.Error(), "group or others can write it") {
		t.Errorf("EnsureHome on a 0777 home: %v", err)
	}
	// So is an instruments folder others can write.
	os.Mkdir(filepath.Join(base, "instruments"), 0o700)
	os.Chmod(filepath.Join(base, "instruments"), 0o775)
	if err := p.EnsureHome(); err == nil || !strings.Contains(err.Error(), "instruments: group or others") {
		t.Errorf("EnsureHome with a group-writable instruments folder: %v", err)
	}
}

// TestTrustRule is the ownership rule for the home, clones/, instruments/
// and instrument profiles.
func TestTrustRule(t *testing.T) {
	const me, other = 1000, 1001
	for _, tc := range []struct {
		name string
		uid  uint32
		perm os.FileMode
		euid int
		want string // part of the problem; "" when trusted
	}{
		{"own private dir", me, 0o700, me, ""},
		{"own dir others can read", me, 0o755, me, ""},
		{"own file", me, 0o644, me, ""},
		{"root's file for a user", 0, 0o755, me, ""},
		{"root's own file", 0, 0o600, 0, ""},
		{"another user's file", other, 0o600, me, "owned by uid 1001, not by you (uid 1000)"},
		{"nobody's file for root", 65534, 0o644, 0, "owned by uid 65534, not by you (uid 0)"},
		{"group can write", me, 0o664, me, "group or others can write it (mode 0664)"},
		{"others can write", me, 0o706, me, "group or others can write it"},
		{"world-writable dir", me, 0o777, me, "group or others can write it"},
		{"another user's world-writable file", other, 0o666, me, "owned by uid 1001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := trustProblem(tc.uid, tc.perm, tc.euid)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("trustProblem(%d, %o, %d) = %q, want %q", tc.uid, tc.perm, tc.euid, got, tc.want)
			}
		})
	}
}

func TestCheckTrustedSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.Mkdir(target, 0o700)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if err := CheckTrusted(link); err != nil {
		t.Errorf("own symlink to own dir: %v", err)
	}
	// The target decides, not the symlink's own 0777 mode.
	os.Chmod(target, 0o777)
	if err := CheckTrusted(link); err == nil || !strings.Contains(err.Error(), "group or others can write it") {
		t.Errorf("own symlink to a 0777 dir: %v", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	// As root: a symlink owned by another user is refused even to root's dir.
	os.Chmod(target, 0o700)
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := CheckTrusted(link); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("nobody's symlink: %v", err)
	}
}
