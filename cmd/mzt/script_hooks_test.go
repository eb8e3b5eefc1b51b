package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands the hook scripts (testdata/script/hooks_*.txtar) use.
func init() {
	scriptCmds["hooksink"] = cmdHookSink
}

// hooksink FILE [STATUS...]: serve HTTP on 127.0.0.1 until the script ends,
// appending every request's method, path, the status it got and body (one line each) to FILE;
// the Nth request is answered with the Nth STATUS (then 200). The URL is
// in $HOOK_URL.
func cmdHookSink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: hooksink FILE [STATUS...]")
	}
	out := ts.MkAbs(args[0])
	var statuses []int
	for _, a := range args[1:] {
		var n int
		for _, c := range a {
			n = n*10 + int(c-'0')
		}
		statuses = append(statuses, n)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	var mu sync.Mutex
	count := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		defer mu.Unlock()
		status := http.StatusOK
		if count < len(statuses) {
			status = statuses[count]
		}
		count++
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %s %d %s\n", r.Method, r.URL.Path, status, body)
			f.Close()
		}
		w.WriteHeader(status)
	})}
	go srv.Serve(ln)
	ts.Defer(func() { srv.Close() })
	ts.Setenv("HOOK_URL", "http://"+ln.Addr().String()+"/"+filepath.Base(out))
}
