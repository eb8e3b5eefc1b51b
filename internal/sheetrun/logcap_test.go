package sheetrun

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLogCapKeepsHeadAndTail: a process writing 50 MB into its own log file
// (as the wrapper shell does) with a 5 MB cap leaves about 5 MB on disk,
// its first and last lines intact, and a note saying what was dropped.
func TestLogCapKeepsHeadAndTail(t *testing.T) {
	sp := spec(t, "/bin/sh", "-c", `exec >"$OUT"; echo first line
i=0; while [ $i -lt 10 ]; do yes "middle of the log" | head -c 5000000; i=$((i+1)); done
echo; echo last line`)
	out := filepath.Join(filepath.Dir(sp.StdoutPath), "try.stdout")
	sp.StdoutPath, sp.StderrPath = "", ""
	os.MkdirAll(filepath.Dir(out), 0o755)
	sp.Env = append(sp.Env, "OUT="+out)
	sp.LogCap, sp.CappedLogs = 5<<20, []string{out}
	res := Run(context.Background(), sp)
	if !res.Success {
		t.Fatalf("run failed: %+v", res)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size < 50_000_000 {
		t.Fatalf("apparent size %d: the writer's output should all have been written", st.Size)
	}
	t.Logf("50 MB written with a 5 MB cap: %d bytes on disk, apparent size %d", st.Blocks*512, st.Size)
	if onDisk := st.Blocks * 512; onDisk > 6<<20 {
		t.Errorf("%d bytes on disk for a 5 MB cap (apparent size %d)", onDisk, st.Size)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("first line\nmiddle of the log\n")) {
		t.Errorf("head lost: %q", data[:40])
	}
	if !bytes.HasSuffix(data, []byte("\nlast line\n")) {
		t.Errorf("tail lost: %q", data[len(data)-40:])
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "stdout passed max_log_mb (5 MB): ") ||
		!strings.Contains(res.Notes[0], "head and tail kept") {
		t.Errorf("notes %q, want one saying the stdout log was capped", res.Notes)
	}
}

func TestLogCapLeavesSmallLogsAlone(t *testing.T) {
	sp := spec(t, "/bin/sh", "-c", `exec >"$OUT"; echo small`)
	out := filepath.Join(filepath.Dir(sp.StdoutPath), "try.stdout")
	sp.StdoutPath, sp.StderrPath = "", ""
	os.MkdirAll(filepath.Dir(out), 0o755)
	sp.Env = append(sp.Env, "OUT="+out)
	sp.LogCap, sp.CappedLogs = 5<<20, []string{out, out + ".never-written"}
	res := Run(context.Background(), sp)
	if data, _ := os.ReadFile(out); string(data) != "small\n" || len(res.Notes) != 0 {
		t.Errorf("log %q, notes %q; want it untouched and no note", data, res.Notes)
	}
}
