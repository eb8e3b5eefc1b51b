package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestLocateConductor(t *testing.T) {
	notFound := func(string) (string, error) { return "", errors.New("not found") }
	onPath := func(name string) (string, error) { return "/usr/local/bin/" + name, nil }
	for _, tc := range []struct {
		name     string
		self     string
		beside   bool
		lookPath func(string) (string, error)
		want     string
		wantErr  string
	}{
		{"beside wins over PATH", "/opt/mzt/bin/mzt", true, onPath, "/opt/mzt/bin/mzt-conductor", ""},
		{"PATH when none beside", "/opt/mzt/bin/mzt", false, onPath, "/usr/local/bin/mzt-conductor", ""},
		{"neither names both places", "/opt/mzt/bin/mzt", false, notFound, "",
			"no mzt-conductor binary: not at /opt/mzt/bin/mzt-conductor nor on PATH"},
		{"unknown self looks on PATH only", "", false, notFound, "", "no mzt-conductor binary on PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isExec := func(p string) bool { return tc.beside && p == "/opt/mzt/bin/mzt-conductor" }
			got, err := locateConductor(tc.self, isExec, tc.lookPath)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestVersionWarnings(t *testing.T) {
	for _, tc := range []struct {
		binary, running string
		want            []string // substrings, one per warning
	}{
		{"1.0", "1.0", nil},
		{"", "", nil},
		{"0.9", "1.0", []string{"mzt-conductor is 0.9, mzt is 1.0"}},
		{"1.0", "0.9", []string{"the running conductor is 0.9, mzt is 1.0"}},
		{"0.8", "0.9", []string{"mzt-conductor is 0.8", "running conductor is 0.9"}},
	} {
		got := versionWarnings("1.0", tc.binary, tc.running)
		if len(got) != len(tc.want) {
			t.Fatalf("versionWarnings(%q, %q) = %q, want %d warnings", tc.binary, tc.running, got, len(tc.want))
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("warning %d = %q, want it to say %q", i, got[i], w)
			}
		}
	}
}

func TestParseVersionJSON(t *testing.T) {
	if v, err := parseVersionJSON([]byte(`{"schema":"mzt/v1","version":"1.2.3"}`)); err != nil || v != "1.2.3" {
		t.Fatalf("got %q, %v", v, err)
	}
	for _, bad := range []string{"", "mzt 1.0", `{"version":""}`, `{"version":"` + strings.Repeat("x", 200) + `"}`} {
		if _, err := parseVersionJSON([]byte(bad)); err == nil {
			t.Errorf("parseVersionJSON(%q) accepted", bad)
		}
	}
}
