package supervisor

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FakeSupervisor answers on a socket as a supervisor of protocol version v
// would, holding tries: it refuses any other version as every version so
// far does (a reply carrying its own version), and records what it was sent.
type fakeSupervisor struct {
	v     int
	tries []TryInfo
	mu    sync.Mutex
	got   []Request
}

// serveFake listens on dir/<pid>.sock until the test ends.
func serveFake(t *testing.T, dir string, pid int, f *fakeSupervisor) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := SocketPath(dir, pid)
	ln, err := net.Listen("unix", path)
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
			go f.serve(c)
		}
	}()
	return path
}

func (f *fakeSupervisor) serve(c net.Conn) {
	defer c.Close()
	var req Request
	if err := readFrame(bufio.NewReader(c), &req); err != nil {
		return
	}
	f.mu.Lock()
	f.got = append(f.got, req)
	f.mu.Unlock()
	if req.V != f.v {
		_ = writeFrame(c, Reply{V: f.v, Error: fmt.Sprintf("protocol version %d is not supported: this supervisor speaks %d", req.V, f.v)})
		return
	}
	switch req.Op {
	case OpHello:
		_ = writeFrame(c, Reply{V: f.v, OK: true, PID: 4242, Version: "fake", Tries: f.tries})
	case OpWait:
		_ = writeFrame(c, Reply{V: f.v, OK: true, Exit: &Exit{Code: 5, Recorded: true}, Proc: &f.tries[0].Proc})
	default:
		_ = writeFrame(c, Reply{V: f.v, Error: "unknown op"})
	}
}

func (f *fakeSupervisor) versionsSent() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, r := range f.got {
		out = append(out, r.V)
	}
	return out
}

// An upgraded conductor speaks an older supervisor's protocol: it lists and
// waits on its tries in that version, and knows the fence is missing.
func TestFindSpeaksAnOlderSupervisorsProtocol(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sup")
	f := &fakeSupervisor{v: 1, tries: []TryInfo{{Spec: TrySpec{Token: "run/1/1"}, Proc: Proc{PID: 77, PGID: 77, StartTicks: 9}}}}
	serveFake(t, dir, 4242, f)
	found := FindClaiming(t.Context(), dir, 12)
	if len(found) != 1 || found[0].Err != nil || found[0].Hello == nil {
		t.Fatalf("found %+v", found)
	}
	if found[0].V != 1 || found[0].Fenced() {
		t.Errorf("speaks %d, fenced %v: want protocol 1, unfenced", found[0].V, found[0].Fenced())
	}
	if got := found[0].Hello.Tries; len(got) != 1 || got[0].Spec.Token != "run/1/1" {
		t.Fatalf("tries %+v", got)
	}
	ex, err := found[0].Wait(t.Context(), "run/1/1")
	if err != nil || ex.Code != 5 {
		t.Fatalf("wait: %+v %v", ex, err)
	}
	if got := f.versionsSent(); fmt.Sprint(got) != fmt.Sprint([]int{ProtocolVersion, 1, 1}) {
		t.Errorf("versions sent %v: want the newest first, then the supervisor's", got)
	}
}

// A supervisor newer than anything this conductor speaks is refused with a
// reason naming both versions; its tries are for crash recovery.
func TestFindRefusesANewerSupervisor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sup")
	f := &fakeSupervisor{v: ProtocolVersion + 1, tries: []TryInfo{{Spec: TrySpec{Token: "run/1/1"}, Proc: Proc{PID: 77}}}}
	path := serveFake(t, dir, 4243, f)
	found := FindClaiming(t.Context(), dir, 12)
	if len(found) != 1 || found[0].Hello != nil || found[0].Err == nil {
		t.Fatalf("found %+v, want one refused supervisor", found)
	}
	want := fmt.Sprintf("it speaks protocol version %d, this conductor %d to %d", ProtocolVersion+1, MinProtocolVersion, ProtocolVersion)
	if msg := found[0].Err.Error(); !strings.Contains(msg, want) || found[0].Path != path {
		t.Errorf("reason %q at %s: want %q", msg, found[0].Path, want)
	}
	if got := f.versionsSent(); len(got) != 1 {
		t.Errorf("versions sent %v: want one try", got)
	}
}
