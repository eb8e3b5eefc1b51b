package cli

import (
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

func TestLastErrorLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"exit code 1: boom", "exit code 1: boom"},
		{"validation failed: command: exit 1\nTraceback (most recent call last):\n  File \"x.py\", line 3\nValueError: bad input\n",
			"validation failed: … ValueError: bad input"},
		{"Traceback (most recent call last):\n  File \"x.py\"\nKeyError: 'k'", "KeyError: 'k'"},
		{"", ""},
	} {
		if got := lastErrorLine(tc.in, 80); got != tc.want {
			t.Errorf("lastErrorLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestShownAttemptsCountsTheRunningTry(t *testing.T) {
	for _, tc := range []struct {
		status   string
		attempts int64
		want     int64
	}{
		{"running", 0, 1}, {"running", 2, 3}, {"waiting", 1, 1}, {"failed", 3, 3}, {"pending", 0, 0},
	} {
		s := &messages.SheetInfo{Status: tc.status, Attempts: tc.attempts}
		if got := shownAttempts(s); got != tc.want {
			t.Errorf("%s with %d used: shown %d, want %d", tc.status, tc.attempts, got, tc.want)
		}
	}
}
