package jobs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

// fakeSupervisor answers hellos on dir/<pid>.sock as a supervisor speaking
// only protocol version v, holding one live try.
func fakeSupervisor(t *testing.T, dir string, pid, v int, try supervisor.TryInfo) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", supervisor.SocketPath(dir, pid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var req supervisor.Request
			line, _ := bufio.NewReader(c).ReadBytes('\n')
			_ = json.Unmarshal(line, &req)
			rep := supervisor.Reply{V: v, OK: true, PID: pid, Version: fmt.Sprintf("proto-%d", v), Tries: []supervisor.TryInfo{try}}
			if req.V != v {
				rep = supervisor.Reply{V: v, Error: fmt.Sprintf("protocol version %d is not supported", req.V)}
			}
			b, _ := json.Marshal(rep)
			c.Write(append(b, '\n'))
			c.Close()
		}
	}()
}

// After an upgrade the new conductor adopts the tries of a supervisor of an
// older protocol version, saying it cannot fence it; a supervisor of a newer
// version is refused with the reason logged, and its try is not adoptable:
// recovery kills it by its recorded identity (it is never left unowned).
func TestFindAdoptableAcrossProtocolVersions(t *testing.T) {
	cmd, done, bg := leftoverGroup(t)
	pid := cmd.Process.Pid
	ticks, err := sheetrun.ProcStartTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	live := supervisor.TryInfo{Spec: supervisor.TrySpec{Token: "run-a/1/1", StartedUnixMS: time.Now().UnixMilli()},
		Proc: supervisor.Proc{PID: pid, PGID: pid, StartTicks: ticks}}

	older := filepath.Join(t.TempDir(), "sup")
	fakeSupervisor(t, older, 101, supervisor.MinProtocolVersion, live)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	got := FindAdoptable(t.Context(), older, 7, log)
	if a, ok := got["run-a/1/1"]; !ok || a.Proc.PID != pid || a.Sup.V != supervisor.MinProtocolVersion {
		t.Fatalf("adoptable %+v: want run-a/1/1 spoken to in protocol %d", got, supervisor.MinProtocolVersion)
	}
	if !strings.Contains(logs.String(), "older protocol version") {
		t.Errorf("no log line about the older protocol:\n%s", logs.String())
	}

	newer := filepath.Join(t.TempDir(), "sup")
	fakeSupervisor(t, newer, 102, supervisor.ProtocolVersion+1, live)
	logs = syncBuffer{}
	log = slog.New(slog.NewTextHandler(&logs, nil))
	if got := FindAdoptable(t.Context(), newer, 7, log); len(got) != 0 {
		t.Fatalf("adoptable %+v from a newer supervisor", got)
	}
	line := logs.String()
	want := fmt.Sprintf("it speaks protocol version %d", supervisor.ProtocolVersion+1)
	if !strings.Contains(line, "cannot be adopted") || !strings.Contains(line, want) || !strings.Contains(line, "102.sock") {
		t.Errorf("log line %q: want the refusal, its socket and %q", line, want)
	}
	// What recovery does with a running sheet it could not adopt.
	row := &store.SheetRow{Num: 1, Status: messages.SheetRunning, PID: pid, PGID: pid, ProcStart: ticks}
	if !killLeftovers(row, time.Second, log) {
		t.Fatal("the unadoptable try was not killed")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the unadoptable try still runs")
	}
	deadline := time.Now().Add(10 * time.Second)
	for running(bg) {
		if time.Now().After(deadline) {
			t.Fatal("a process of the unadoptable try's group still runs")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
