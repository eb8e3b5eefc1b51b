package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["jsonrange"] = cmdJSONRange
	scriptCmds["waitstatus"] = cmdWaitStatus
	scriptCmds["ordered"] = cmdOrdered
	scriptCmds["httpget"] = cmdHTTPGet
}

// httpget FILE: GET /metrics from the endpoint the conductor's log says it
// listens on, into FILE.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: httpget FILE")
	}
	m := regexp.MustCompile(`"msg":"metrics endpoint listening".*"addr":"([^"]+)"`).
		FindStringSubmatch(ts.ReadFile("home/conductor.log"))
	if m == nil {
		ts.Fatalf("the conductor log names no metrics endpoint")
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + m[1] + "/metrics")
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), body, 0o644))
}

// jsonrange PATH MIN MAX: the number at PATH on the last stdout is within
// [MIN, MAX].
func cmdJSONRange(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: jsonrange PATH MIN MAX")
	}
	got, ok := lookupJSON(ts, args[0])
	if !ok {
		ts.Fatalf("%s: missing", args[0])
	}
	v, err := strconv.ParseFloat(got, 64)
	if err != nil {
		ts.Fatalf("%s = %q, not a number", args[0], got)
	}
	lo, err1 := strconv.ParseFloat(args[1], 64)
	hi, err2 := strconv.ParseFloat(args[2], 64)
	if err1 != nil || err2 != nil {
		ts.Fatalf("usage: jsonrange PATH MIN MAX (numbers)")
	}
	if v < lo || v > hi {
		ts.Fatalf("%s = %v, want within [%v, %v]", args[0], v, lo, hi)
	}
}

// waitstatus JOB PATH REGEXP [TIMEOUT]: poll `mzt status JOB --json` until the
// value at PATH matches REGEXP.
func cmdWaitStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: waitstatus JOB PATH REGEXP [TIMEOUT]")
	}
	re, err := regexp.Compile(args[2])
	ts.Check(err)
	timeout := argTimeout(ts, args, 3, 60*time.Second)
	last, ok := pollStatus(ts, args[0], timeout, func(v any) (string, bool) {
		got, found := walkJSON(v, args[1])
		return got, found && re.MatchString(got)
	})
	if !ok {
		ts.Fatalf("job %s: %s = %q after %s (want match for %q)", args[0], args[1], last, timeout, args[2])
	}
}

// ordered FILE REGEXP...: FILE has lines matching each REGEXP, in this order
// (other lines may come between).
func cmdOrdered(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: ordered FILE REGEXP...")
	}
	lines := strings.Split(ts.ReadFile(args[0]), "\n")
	at := 0
	for _, pat := range args[1:] {
		re, err := regexp.Compile(pat)
		ts.Check(err)
		found := false
		for ; at < len(lines); at++ {
			if re.MatchString(lines[at]) {
				found, at = true, at+1
				break
			}
		}
		if !found {
			ts.Fatalf("no line matching %q after the previous match in %s:\n%s", pat, args[0], strings.Join(lines, "\n"))
		}
	}
	fmt.Fprintf(ts.Stdout(), "%d patterns in order\n", len(args)-1)
}
