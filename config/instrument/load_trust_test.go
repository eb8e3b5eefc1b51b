package instrument

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRefusesWritableProfiles(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "shell.toml")
	os.WriteFile(good, []byte("executable = \"true\"\n"), 0o600)
	os.WriteFile(bad, []byte("executable = \"/tmp/evil\"\n"), 0o600)
	os.Chmod(bad, 0o666)

	profiles, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "refusing "+bad+": group or others can write it") {
		t.Fatalf("Load with a world-writable profile: %v", err)
	}
	if profiles["good"] == nil {
		t.Error("the trusted profile was not loaded beside the refused one")
	}
	if profiles["shell"] == nil || profiles["shell"].Source != "built-in" {
		t.Errorf("shell is %+v, want the built-in", profiles["shell"])
	}

	// A folder others can write is refused whole.
	os.Chmod(bad, 0o600)
	os.Chmod(dir, 0o777)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "instruments: refusing "+dir) {
		t.Fatalf("Load of a world-writable folder: %v", err)
	}
}
