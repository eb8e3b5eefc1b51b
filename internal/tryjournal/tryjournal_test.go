package tryjournal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestAppendAndFindLastWins(t *testing.T) {
	p := filepath.Join(t.TempDir(), Name)
	if _, ok, err := Find(p, "a"); ok || err != nil {
		t.Fatalf("no journal: ok=%v err=%v, want neither", ok, err)
	}
	for _, r := range []struct{ name, payload string }{
		{"sheet-1.try-1.prompt", "line one\n#mzt fake 3 0\nline three"},
		{"sheet-2.try-1.prompt", ""},
		{"sheet-1.try-1.prompt", "again"},
	} {
		if err := Append(p, r.name, []byte(r.payload)); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := Find(p, "sheet-1.try-1.prompt")
	if err != nil || !ok || string(got) != "again" {
		t.Fatalf("Find = %q, %v, %v; want the last record", got, ok, err)
	}
	got, ok, _ = Find(p, "sheet-2.try-1.prompt")
	if !ok || len(got) != 0 {
		t.Fatalf("empty payload: %q, %v", got, ok)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestNamesWithSpacesRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), Name)
	for _, n := range []string{"", "a b", "a\nb"} {
		if err := Append(p, n, nil); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
}

// A record cut short (a machine crash mid-write) or plain garbage costs
// only that record: the ones appended after it are found.
func TestTornRecordsAreSkipped(t *testing.T) {
	p := filepath.Join(t.TempDir(), Name)
	if err := AppendExit(p, "sheet-1.try-1.exit", 0, time.UnixMilli(1000)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("#mzt sheet-2.try-1.exit 40 12345\n0 1") // torn: promises 40 bytes
	f.Write(make([]byte, 100))                             // zeros, as after a power loss
	f.WriteString("\n#mzt sheet-9.try-1.exit 2 1\nxx\n")   // bad checksum
	f.Close()
	if err := AppendExit(p, "sheet-3.try-2.exit", 137, time.UnixMilli(2000)); err != nil {
		t.Fatal(err)
	}
	all := ReadExits(p)
	if len(all) != 2 || all["sheet-1.try-1.exit"].Code != 0 || all["sheet-3.try-2.exit"].Code != 137 {
		t.Fatalf("ReadExits = %v, want sheet-1 (0) and sheet-3 (137) only", all)
	}
	if e, ok := FindExit(p, "sheet-3.try-2.exit"); !ok || !e.Ended.Equal(time.UnixMilli(2000)) {
		t.Fatalf("FindExit = %v, %v", e, ok)
	}
	if _, ok := FindExit(p, "sheet-2.try-1.exit"); ok {
		t.Fatal("the torn record was read")
	}
}

// Appends from many goroutines (and, the same way, processes) never mix.
func TestConcurrentAppendsStayWhole(t *testing.T) {
	p := filepath.Join(t.TempDir(), Name)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				body := fmt.Sprintf("%d-%d:%0*d", g, i, 3000, i)
				if err := Append(p, fmt.Sprintf("s-%d.t-%d", g, i), []byte(body)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	all, err := ReadAll(p)
	if err != nil || len(all) != 400 {
		t.Fatalf("ReadAll: %d records, %v; want 400", len(all), err)
	}
	for g := 0; g < 8; g++ {
		for i := 0; i < 50; i++ {
			if want := fmt.Sprintf("%d-%d:%0*d", g, i, 3000, i); string(all[fmt.Sprintf("s-%d.t-%d", g, i)]) != want {
				t.Fatalf("record %d/%d damaged", g, i)
			}
		}
	}
}

func TestMaterializePrompt(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sheet-1.try-2.prompt")
	if err := MaterializePrompt(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("nothing recorded, yet a file: %v", err)
	}
	if err := AppendPrompt(p, []byte("do the thing\n")); err != nil {
		t.Fatal(err)
	}
	if err := MaterializePrompt(p); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "do the thing\n" {
		t.Fatalf("prompt file %q, %v", b, err)
	}
	// A file already there (an instrument's prompt_via = "file") is kept.
	os.WriteFile(p, []byte("own"), 0o600)
	MaterializePrompt(p)
	if b, _ := os.ReadFile(p); string(b) != "own" {
		t.Fatalf("existing file replaced: %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

// Exits and prompts share the run's journal; only *.exit records are exits.
func TestExitsAndPromptsShareTheJournal(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, Name)
	AppendPrompt(filepath.Join(dir, "sheet-1.try-1.prompt"), []byte("0 1700000000000"))
	AppendExit(j, "sheet-1.try-1.exit", 3, time.UnixMilli(5))
	got := ReadExits(j)
	if len(got) != 1 || got["sheet-1.try-1.exit"].Code != 3 {
		t.Fatalf("ReadExits = %v, want the one exit", got)
	}
	if p, ok, _ := Find(j, "sheet-1.try-1.prompt"); !ok || string(p) != "0 1700000000000" {
		t.Fatalf("prompt %q, %v", p, ok)
	}
}

// A record torn in the middle of its payload (a crash, or a kill during a
// large write) ends without a newline; the records appended after it must
// still be found, an exit record above all (without it a finished try runs
// again).
func TestRecordAfterATornOneIsFound(t *testing.T) {
	for _, cut := range []int{1, 5, 20, 40} { // inside the header, and inside the payload
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), Name)
			if err := Append(p, "sheet-1.try-1.prompt", []byte("a prompt long enough to be torn in its middle")); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			if err := AppendExit(p, "sheet-3.try-2.exit", 0, time.UnixMilli(1700000000000)); err != nil {
				t.Fatal(err)
			}
			e, ok := FindExit(p, "sheet-3.try-2.exit")
			if !ok || e.Code != 0 || e.Ended.UnixMilli() != 1700000000000 {
				t.Fatalf("after a record torn at byte %d: %+v, %v; want the exit record", cut, e, ok)
			}
			if _, ok := ReadExits(p)["sheet-3.try-2.exit"]; !ok {
				t.Fatal("ReadExits misses the exit record after the torn one")
			}
		})
	}
}

// A re-run carries the prompts of the sheets it keeps from the earlier
// run's journal into its own, under their new names, in one append; and
// the sheet detail makes several prompt files from one read.
func TestCarryAndMaterializePrompts(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	for i := 1; i <= 3; i++ {
		if err := AppendPrompt(filepath.Join(from, fmt.Sprintf("sheet-%d.try-1.prompt", i)), []byte(fmt.Sprint("prompt ", i))); err != nil {
			t.Fatal(err)
		}
	}
	rename := map[string]string{"sheet-2.try-1.prompt": "sheet-1.try-1.prompt", "sheet-3.try-1.prompt": "sheet-2.try-1.prompt",
		"sheet-9.try-1.prompt": "sheet-3.try-1.prompt"} // never recorded: nothing carried
	if err := CarryPrompts(from, to, rename); err != nil {
		t.Fatal(err)
	}
	all, err := ReadAll(filepath.Join(to, Name))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || string(all["sheet-1.try-1.prompt"]) != "prompt 2" || string(all["sheet-2.try-1.prompt"]) != "prompt 3" {
		t.Fatalf("carried %q, want sheets 2 and 3 of the earlier run as 1 and 2", all)
	}
	paths := []string{filepath.Join(to, "sheet-1.try-1.prompt"), filepath.Join(to, "sheet-2.try-1.prompt"), filepath.Join(to, "sheet-3.try-1.prompt")}
	if err := MaterializePrompts(paths); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"prompt 2", "prompt 3"} {
		if b, err := os.ReadFile(paths[i]); err != nil || string(b) != want {
			t.Fatalf("%s: %q, %v; want %q", paths[i], b, err, want)
		}
	}
	if _, err := os.Stat(paths[2]); !os.IsNotExist(err) {
		t.Fatalf("a prompt never recorded got a file: %v", err)
	}
}
