package sheetrun

import (
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestShortenArgvLeavesNormalArgvAlone(t *testing.T) {
	argv := []string{"/bin/bash", "-c", "echo hi", "x"}
	got, err := ShortenArgv(argv, filepath.Join(t.TempDir(), "s"))
	if err != nil || !reflect.DeepEqual(got, argv) {
		t.Fatalf("ShortenArgv(normal) = %q, %v; want it unchanged", got, err)
	}
}

func TestShortenArgvRunsLongScriptFromFile(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	// 300 KB of comment, then commands that show $0, the arguments and a quote.
	script := "#" + strings.Repeat("x", 300<<10) + "\n" + `echo "zero=$0 one=$1 n=$#"; echo "it's fine"`
	path := filepath.Join(t.TempDir(), "sheet 1's.script")
	argv := []string{bash, "-c", script, "mzt-sheet", "arg1"}
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err == nil {
		t.Fatalf("the long argv ran unchanged (%s): this test no longer proves anything", out)
	}
	got, err := ShortenArgv(argv, path)
	if err != nil {
		t.Fatal(err)
	}
	if argv[2] != script {
		t.Fatal("ShortenArgv changed its input")
	}
	out, err := exec.Command(got[0], got[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("shortened argv %q: %v: %s", got[:3], err, out)
	}
	if want := "zero=mzt-sheet one=arg1 n=1\nit's fine\n"; string(out) != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestShortenArgvRefusesLongNonShellArgument(t *testing.T) {
	long := strings.Repeat("y", 200<<10)
	for _, argv := range [][]string{
		{"/usr/bin/claude", "-p", long},
		{"/usr/bin/python3", "-c", long},
	} {
		_, err := ShortenArgv(argv, filepath.Join(t.TempDir(), "s"))
		if err == nil || !strings.Contains(err.Error(), "prompt_via") {
			t.Errorf("ShortenArgv(%s ...) err = %v, want a refusal naming prompt_via", argv[0], err)
		}
	}
}
