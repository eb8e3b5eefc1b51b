package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/mzt-dev/mzt/client"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["gofollow"] = cmdGoFollow
	scriptCmds["exactlyonce"] = cmdExactlyOnce
	scriptCmds["example"] = cmdExample
}

// example PATH: copy examples/PATH of the repository into the work dir.
func cmdExample(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: example PATH")
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", args[0]))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(filepath.Base(args[0])), data, 0o644))
}

// followers are the Go client iterators scripts started, by script.
var followers = struct {
	sync.Mutex
	m map[*testscript.TestScript]*goFollower
}{m: map[*testscript.TestScript]*goFollower{}}

type goFollower struct {
	cancel context.CancelFunc
	done   chan error
}

// gofollow start FILE [JOB] | gofollow stop: follow the events of the
// script's conductor with the Go client's iterator (client.New(Default()),
// Events) in the background, one line per event in FILE ("seq kind sheet
// status"), until stop. The iterator redials by itself across restarts.
func cmdGoFollow(ts *testscript.TestScript, neg bool, args []string) {
	followers.Lock()
	defer followers.Unlock()
	switch {
	case len(args) >= 2 && args[0] == "start":
		out, err := os.Create(ts.MkAbs(args[1]))
		ts.Check(err)
		job := ""
		if len(args) > 2 {
			job = args[2]
		}
		// The client reads MARIANNE_HOME like the CLI; the script's is private.
		home := ts.Getenv("MARIANNE_HOME")
		ctx, cancel := context.WithCancel(context.Background())
		f := &goFollower{cancel: cancel, done: make(chan error, 1)}
		followers.m[ts] = f
		go func() {
			f.done <- followEvents(ctx, home, job, out)
		}()
	case len(args) == 1 && args[0] == "stop":
		f := followers.m[ts]
		if f == nil {
			ts.Fatalf("no follower started")
		}
		delete(followers.m, ts)
		f.cancel()
		if err := <-f.done; err != nil {
			ts.Fatalf("follower: %v", err)
		}
	default:
		ts.Fatalf("usage: gofollow start FILE [JOB] | gofollow stop")
	}
}

func followEvents(ctx context.Context, home, job string, out *os.File) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("follower panicked: %v", r)
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	c := client.NewLocal(home + "/api.sock")
	defer c.Close()
	for e, err := range c.Events(ctx, client.Filter{Job: job}) {
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "%d %s %d %s\n", e.GetSeq(), e.GetKind(), e.GetSheet(), e.GetStatus()); err != nil {
			return err
		}
		out.Sync()
	}
	return nil
}

// exactlyonce FOLLOWED STORED: the events the follower wrote ("seq kind
// sheet status" lines) are exactly the stored ones (`mzt events --json`
// lines), in order, none missing, none twice. Whole events are compared, not
// just seqs: a seq a crash lost and a restart numbered again is another event.
func cmdExactlyOnce(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: exactlyonce FOLLOWED STORED")
	}
	followed := readSeqs(ts, args[0], func(line string) (string, error) {
		return line, nil
	})
	stored := readSeqs(ts, args[1], func(line string) (string, error) {
		var e struct {
			Seq    int64  `json:"seq"`
			Kind   string `json:"kind"`
			Sheet  int64  `json:"sheet"`
			Status string `json:"status"`
		}
		err := json.Unmarshal([]byte(line), &e)
		return fmt.Sprintf("%d %s %d %s", e.Seq, e.Kind, e.Sheet, e.Status), err
	})
	if len(stored) == 0 {
		ts.Fatalf("no stored events in %s", args[1])
	}
	if !slices.Equal(followed, stored) {
		ts.Fatalf("followed events:\n%s\nstored events:\n%s", strings.Join(followed, "\n"), strings.Join(stored, "\n"))
	}
	ts.Logf("%d events, each exactly once", len(stored))
}

func readSeqs(ts *testscript.TestScript, name string, parse func(string) (string, error)) []string {
	f, err := os.Open(ts.MkAbs(name))
	ts.Check(err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		line, err := parse(sc.Text())
		if err != nil {
			ts.Fatalf("%s: %q: %v", name, sc.Text(), err)
		}
		out = append(out, line)
	}
	ts.Check(sc.Err())
	return out
}
