package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["sameevents"] = cmdSameEvents
}

// sameevents FOLLOWED STORED: two files of `mzt events --json` lines hold
// the same events in the same order: none missing, none twice.
func cmdSameEvents(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sameevents FOLLOWED STORED")
	}
	parse := func(line string) (string, error) {
		var e struct {
			Seq    int64  `json:"seq"`
			Kind   string `json:"kind"`
			Sheet  int64  `json:"sheet"`
			Status string `json:"status"`
		}
		err := json.Unmarshal([]byte(line), &e)
		return fmt.Sprintf("%d %s %d %s", e.Seq, e.Kind, e.Sheet, e.Status), err
	}
	followed, stored := readSeqs(ts, args[0], parse), readSeqs(ts, args[1], parse)
	if len(stored) == 0 {
		ts.Fatalf("no stored events in %s", args[1])
	}
	if !slices.Equal(followed, stored) {
		ts.Fatalf("followed events:\n%s\nstored events:\n%s", strings.Join(followed, "\n"), strings.Join(stored, "\n"))
	}
	ts.Logf("%d events, each exactly once", len(stored))
}
