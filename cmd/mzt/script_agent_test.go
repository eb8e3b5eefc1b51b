package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// realClaude is the real `claude` CLI the agent scripts drive against the
// Messages API mock: $MZT_REAL_CLAUDE, else claude on PATH; "" when there is
// none (the scripts say so and skip).
func realClaude() string {
	if p := os.Getenv("MZT_REAL_CLAUDE"); p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return abs
			}
		}
		return ""
	}
	p, err := exec.LookPath("claude")
	if err != nil {
		return ""
	}
	return p
}

func init() {
	scriptCmds["envfile"] = cmdEnvFile
}

// envfile NAME FILE sets NAME to the trimmed content of FILE (e.g. the port
// a mock server chose).
func cmdEnvFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfile NAME FILE")
	}
	ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
}
