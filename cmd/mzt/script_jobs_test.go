package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Commands the job scripts (testdata/script/job_*.txtar) use on top of the
// harness's own: exact exit codes, JSON fields of the last stdout, and
// waiting for a sheet's state or a file's content instead of sleeping.
func init() {
	scriptCmds["exitcode"] = cmdExitCode
	scriptCmds["jsonpath"] = cmdJSONPath
	scriptCmds["jsonre"] = cmdJSONRe
	scriptCmds["waitsheet"] = cmdWaitSheet
	scriptCmds["waitgrep"] = cmdWaitGrep
}

// exitcode N PROG ARGS...: run PROG and require exit code N; its stdout and
// stderr are kept for the next stdout/stderr checks.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// lookupJSON follows a dotted path through the JSON on the last command's
// stdout: object keys, array indexes, "@len" for a length, and FIELD=VALUE for
// the first array element whose FIELD is VALUE (instruments.name=shell.source).
func lookupJSON(ts *testscript.TestScript, path string) (string, bool) {
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &v); err != nil {
		ts.Fatalf("stdout is not one JSON value: %v", err)
	}
	return walkJSON(v, path)
}

// walkJSON follows path through a decoded JSON value (see lookupJSON).
func walkJSON(v any, path string) (string, bool) {
	if path != "." {
		for _, k := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				if k == "@len" {
					v = float64(len(x))
					continue
				}
				var ok bool
				if v, ok = x[k]; !ok {
					return "", false
				}
			case []any:
				if k == "@len" {
					v = float64(len(x))
					continue
				}
				if field, want, ok := strings.Cut(k, "="); ok {
					v = nil
					for _, e := range x {
						if m, _ := e.(map[string]any); m != nil && fmt.Sprint(m[field]) == want {
							v = e
							break
						}
					}
					if v == nil {
						return "", false
					}
					continue
				}
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || i >= len(x) {
					return "", false
				}
				v = x[i]
			default:
				return "", false
			}
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case nil:
		return "null", true
	case bool:
		return strconv.FormatBool(x), true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}

// jsonpath [!] PATH VALUE: the JSON on the last stdout has VALUE at PATH
// (e.g. sheets.0.attempts 3, sheets.@len 4). Negated: PATH is absent or differs.
func cmdJSONPath(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonpath [!] PATH VALUE")
	}
	got, ok := lookupJSON(ts, args[0])
	if (ok && got == args[1]) == neg {
		if !ok {
			ts.Fatalf("%s: missing (want %q)", args[0], args[1])
		}
		ts.Fatalf("%s = %q (want %s%q)", args[0], got, map[bool]string{true: "not "}[neg], args[1])
	}
}

// jsonre [!] PATH REGEXP: the value at PATH (as text) matches REGEXP.
func cmdJSONRe(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonre [!] PATH REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	got, ok := lookupJSON(ts, args[0])
	if (ok && re.MatchString(got)) == neg {
		if !ok {
			ts.Fatalf("%s: missing (want match for %q)", args[0], args[1])
		}
		ts.Fatalf("%s = %q (want %smatch for %q)", args[0], got, map[bool]string{true: "no "}[neg], args[1])
	}
}

// waitsheet JOB N STATUS [TIMEOUT]: wait until sheet N of JOB reports STATUS.
func cmdWaitSheet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: waitsheet JOB N STATUS [TIMEOUT]")
	}
	num, err := strconv.Atoi(args[1])
	ts.Check(err)
	timeout := argTimeout(ts, args, 3, 60*time.Second)
	last, ok := pollStatus(ts, args[0], timeout, func(v any) (string, bool) {
		for i := 0; ; i++ {
			n, found := walkJSON(v, fmt.Sprintf("sheets.%d.num", i))
			if !found {
				return "no such sheet", false
			}
			if n == strconv.Itoa(num) {
				status, _ := walkJSON(v, fmt.Sprintf("sheets.%d.status", i))
				return status, status == args[2]
			}
		}
	})
	if !ok {
		ts.Fatalf("job %s sheet %d: status %q after %s (wanted %q)", args[0], num, last, timeout, args[2])
	}
}

// pollStatus runs `mzt status JOB --json` until check accepts its output or
// timeout passes; it returns check's last description.
func pollStatus(ts *testscript.TestScript, job string, timeout time.Duration, check func(v any) (string, bool)) (string, bool) {
	last := ""
	ok := waitUntil(timeout, func() bool {
		cmd := mztCmd(ts, "status", job, "--json")
		if g := ts.Getenv("GORACE"); g != "" {
			// A script may set GORACE=atexit_sleep_ms=0 so each poll of the
			// race-built binary does not sleep a second at exit.
			cmd.Env = append(cmd.Env, "GORACE="+g)
		}
		out, err := cmd.Output()
		if err != nil {
			last = err.Error()
			return false
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			last = err.Error()
			return false
		}
		var done bool
		last, done = check(v)
		return done
	})
	return last, ok
}

// waitgrep [!] REGEXP FILE [TIMEOUT]: wait until FILE exists and its content
// matches REGEXP (multi-line mode); negated, until it does not match.
func cmdWaitGrep(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitgrep [!] REGEXP FILE [TIMEOUT]")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	timeout := argTimeout(ts, args, 2, 30*time.Second)
	path := ts.MkAbs(args[1])
	var last []byte
	ok := waitUntil(timeout, func() bool {
		last, _ = os.ReadFile(path)
		return re.Match(last) != neg
	})
	if !ok {
		ts.Fatalf("%s: content %q after %s (wanted %s%q)", args[1], last, timeout,
			map[bool]string{true: "no match for "}[neg], args[0])
	}
}
