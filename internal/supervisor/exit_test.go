package supervisor

import (
	"os"
	"path/filepath"
	"testing"
)

// An exit record is read whoever wrote it: a supervisor's link, the
// wrapper's (or an older supervisor's) file; anything incomplete is none.
func TestReadExit(t *testing.T) {
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	if err := writeExit(at("link"), 137); err != nil {
		t.Fatal(err)
	}
	if err := writeExit(at("again"), 1); err != nil {
		t.Fatal(err)
	}
	if err := writeExit(at("again"), 0); err != nil { // written again: replaced
		t.Fatal(err)
	}
	os.WriteFile(at("file"), []byte("3\n"), 0o600)
	os.WriteFile(at("empty"), nil, 0o600)
	os.WriteFile(at("garbage"), []byte("x"), 0o600)
	cases := []struct {
		name   string
		code   int
		wantOK bool
	}{
		{"link", 137, true}, {"again", 0, true}, {"file", 3, true},
		{"empty", 0, false}, {"garbage", 0, false}, {"missing", 0, false},
	}
	for _, c := range cases {
		code, ok := ReadExit(at(c.name))
		if ok != c.wantOK || ok && code != c.code {
			t.Errorf("%s: %d %v, want %d %v", c.name, code, ok, c.code, c.wantOK)
		}
	}
}
