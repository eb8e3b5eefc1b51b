package config

import (
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config/strict"
)

func TestHookProblems(t *testing.T) {
	tests := []struct {
		name string
		hook Hook
		want string // a substring of the one problem; "" = none
	}{
		{"run", Hook{On: []string{"job.completed", "stall"}, Run: "true"}, ""},
		{"url", Hook{On: []string{"pressure"}, URL: "https://example.org/hook"}, ""},
		{"no event", Hook{Run: "true"}, "name at least one"},
		{"unknown event", Hook{On: []string{"job.done"}, Run: "true"}, `unknown event "job.done"`},
		{"neither run nor url", Hook{On: []string{"stall"}}, "either run or url"},
		{"both run and url", Hook{On: []string{"stall"}, Run: "x", URL: "http://h/"}, "either run or url"},
		{"not http", Hook{On: []string{"stall"}, URL: "file:///etc/passwd"}, "want an http:// or https:// URL"},
		{"timeout too long", Hook{On: []string{"stall"}, Run: "x", Timeout: strict.Duration(48 * time.Hour)}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hookProblems([]Hook{tt.hook})
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("problems %v, want none", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("problems %v, want one with %q", got, tt.want)
			}
		})
	}
	if d := (Hook{}).TimeoutOrDefault(); d != DefaultHookTimeout {
		t.Errorf("default timeout %s", d)
	}
}
