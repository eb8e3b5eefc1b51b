package hooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/reaper"
	"github.com/mzt-dev/mzt/actors/store"
)

// A hook past its timeout is stopped with its whole process group, a child
// that ignores SIGTERM included.
func TestRunCommandTimeoutKillsItsGroup(t *testing.T) {
	dir := t.TempDir()
	h := store.HookRow{Run: `trap "" TERM; sleep 30 & echo $! > child.pid; wait`, Dir: dir, Timeout: 300 * time.Millisecond}
	start := time.Now()
	err := runCommand(context.Background(), h, 200*time.Millisecond, reaper.NewTracker(), "hook-test/1", nil)
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	data, rerr := os.ReadFile(filepath.Join(dir, "child.pid"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the hook's child %d survived", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunCommandEnvAndFailure(t *testing.T) {
	dir := t.TempDir()
	h := store.HookRow{Run: `test "$MZT_JOB_ID" = j1 && test "$PWD" = "` + dir + `" && echo nope >&2 && exit 4`,
		Dir: dir, Env: map[string]string{"MZT_JOB_ID": "j1"}, Timeout: 5 * time.Second}
	err := runCommand(context.Background(), h, time.Second, reaper.NewTracker(), "hook-test/2", nil)
	if err == nil || err.Error() != "exit status 4: nope" {
		t.Fatalf("err = %v, want exit status 4 with its last line", err)
	}
}

func TestPostRetries(t *testing.T) {
	var calls atomic.Int32
	var failFirst atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		switch {
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case r.URL.Path == "/hang":
			time.Sleep(2 * time.Second)
		case n <= int(failFirst.Load()):
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path      string
		failFirst int
		wantCalls int32
		wantErr   string
	}{
		{"/ok", 0, 1, ""},
		{"/flaky", 3, 4, ""},
		{"/down", 100, 4, "4 tries: answered 503 Service Unavailable"},
		{"/redirect", 0, 4, "answered 302 Found"},
		{"/hang", 0, 4, "no answer within 100ms"},
	}
	for _, tt := range tests {
		calls.Store(0)
		failFirst.Store(int32(tt.failFirst))
		h := store.HookRow{URL: srv.URL + tt.path, Body: `{"event":"x"}`, Timeout: 100 * time.Millisecond}
		err := post(context.Background(), client, h, time.Millisecond)
		if got := calls.Load(); got != tt.wantCalls {
			t.Errorf("%s: %d requests, want %d", tt.path, got, tt.wantCalls)
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: err %v, want %q", tt.path, err, tt.wantErr)
		}
	}
}
