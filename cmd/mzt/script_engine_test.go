package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the engine's scripts: bursts of submissions without paying
// a CLI start per job, and waiting for the active list to empty.
func init() {
	scriptCmds["submitmany"] = cmdSubmitMany
	scriptCmds["waitactive"] = cmdWaitActive
}

// submitmany N PREFIX SCORE: submit SCORE N times, one after another, as
// jobs PREFIX1..PREFIXN (what `mzt run --id PREFIXk SCORE` sends).
func cmdSubmitMany(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: submitmany N PREFIX SCORE")
	}
	var n int
	if _, err := fmt.Sscan(args[0], &n); err != nil || n < 1 {
		ts.Fatalf("submitmany: bad count %q", args[0])
	}
	path := ts.MkAbs(args[2])
	src, err := os.ReadFile(path)
	ts.Check(err)
	c, err := client.Dial(context.Background(), socketPath(ts))
	ts.Check(err)
	defer c.Close()
	for i := 1; i <= n; i++ {
		req := &messages.SubmitJobRequest{ScorePath: path, ScoreSource: src, JobId: fmt.Sprintf("%s%d", args[1], i)}
		if _, err := c.Request(context.Background(), req); err != nil {
			ts.Fatalf("submit %s%d: %v", args[1], i, err)
		}
	}
}

// waitactive N [TIMEOUT]: wait until the active list (`mzt list`) holds at
// most N jobs; prints the last list's size and statuses on failure.
func cmdWaitActive(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: waitactive N [TIMEOUT]")
	}
	var want int
	if _, err := fmt.Sscan(args[0], &want); err != nil {
		ts.Fatalf("waitactive: bad count %q", args[0])
	}
	timeout := argTimeout(ts, args, 1, 60*time.Second)
	var last []*messages.JobInfo
	var lastErr error
	ok := waitUntil(timeout, func() bool {
		list, err := client.Call[*messages.JobList](context.Background(), socketPath(ts), &messages.ListJobsRequest{})
		if err != nil {
			lastErr = err
			return false
		}
		last, lastErr = list.GetJobs(), nil
		return len(last) <= want
	})
	if !ok {
		statuses := map[string]int{}
		for _, j := range last {
			statuses[j.GetStatus()]++
		}
		ts.Fatalf("active list still holds %d jobs after %s (by status %v; last error %v)", len(last), timeout, statuses, lastErr)
	}
}
