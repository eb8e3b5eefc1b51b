package cli

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestLdflagsVersion(t *testing.T) {
	for _, tc := range []struct {
		flags           string
		version         string
		stamped, unsure bool
	}{
		{"", "", false, false},
		{"-s -w", "", false, false},
		{"-X " + versionVar + "=1.2.3", "1.2.3", true, false},
		{"-s -X=" + versionVar + "=1.2.3 -w", "1.2.3", true, false},
		{"--X=" + versionVar + "=1.2.3", "1.2.3", true, false},
		{"-X main.other=9 -X " + versionVar + "=1.0 -X " + versionVar + "=2.0", "2.0", true, false},
		{"-X main.Version=9.9", "", false, false},
		{"-X " + versionVar + "x=9.9", "", false, false},
		{"-X '" + versionVar + "=1 2'", "", false, true},
		{"-X", "", false, true},
		{"-X " + versionVar + "=", "", false, true},
	} {
		v, stamped, ok := ldflagsVersion(tc.flags)
		if v != tc.version || stamped != tc.stamped || ok == tc.unsure {
			t.Errorf("ldflagsVersion(%q) = %q, %v, %v; want %q, %v, %v", tc.flags, v, stamped, ok, tc.version, tc.stamped, !tc.unsure)
		}
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	build := func(ldflags, revision string) *debug.BuildInfo {
		info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/mzt-dev/mzt", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "-compiler", Value: "gc"}}}
		if ldflags != "" {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: "-ldflags", Value: ldflags})
		}
		if revision != "" {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: "vcs.revision", Value: revision})
		}
		return info
	}
	stamp := func(v string) string { return "-X " + versionVar + "=" + v }
	otherModule := build(stamp("1.0"), "")
	otherModule.Main.Path = "example.com/other"
	otherGo := build("", "abc")
	otherGo.GoVersion = "go1.25.1"
	for _, tc := range []struct {
		name        string
		theirs, our *debug.BuildInfo
		want        string
		ok          bool
	}{
		{"stamped: its stamp", build(stamp("2.0"), ""), build(stamp("1.0"), ""), "2.0", true},
		{"stamped alike", build(stamp("1.0"), "x"), build("", "y"), "1.0", true},
		{"unstamped builds of one source: the default", build("-s", "abc"), build("", "abc"), defaultVersion, true},
		{"unstamped, no VCS information either side", build("", ""), build("", ""), defaultVersion, true},
		{"unstamped from another revision: ask it", build("", "abc"), build("", "def"), "", false},
		{"unstamped with another Go: ask it", otherGo, build("", "abc"), "", false},
		{"unstamped next to a stamped mzt: ask it", build("", ""), build(stamp("1.0"), ""), "", false},
		{"another module: ask it", otherModule, build("", ""), "", false},
		{"unreadable flags: ask it", build("-X '"+versionVar+"=a b'", ""), build("", ""), "", false},
		{"no build information", nil, build("", ""), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := versionFromBuildInfo(tc.theirs, tc.our)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// A file that is not a Go binary (a wrapper script) settles nothing: mzt
// asks it instead.
func TestReadVersionStampOfAScript(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mzt-conductor")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho '{\"version\": \"7\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if v, ok := readVersionStamp(path); ok {
		t.Fatalf("read version %q from a shell script", v)
	}
}
