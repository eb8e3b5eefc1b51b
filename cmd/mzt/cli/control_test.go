package cli

import (
	"reflect"
	"testing"

	"github.com/mzt-dev/mzt/messages"
)

func TestSelectedForAll(t *testing.T) {
	job := func(status, group string) *messages.JobInfo { return &messages.JobInfo{Status: status, Group: group} }
	pause, resume, cancel := messages.JobAction_JOB_ACTION_PAUSE, messages.JobAction_JOB_ACTION_RESUME, messages.JobAction_JOB_ACTION_CANCEL
	tests := []struct {
		name          string
		j             *messages.JobInfo
		action        messages.JobAction
		status, group string
		want          bool
	}{
		{"cancel takes a running job", job("running", ""), cancel, "", "", true},
		{"cancel takes a queued job", job("queued", ""), cancel, "", "", true},
		{"cancel takes a paused job", job("paused", ""), cancel, "", "", true},
		{"cancel leaves a finished job", job("failed", ""), cancel, "", "", false},
		{"pause leaves a paused job", job("paused", ""), pause, "", "", false},
		{"resume takes only paused jobs by default", job("failed", ""), resume, "", "", false},
		{"resume takes a paused job", job("paused", ""), resume, "", "", true},
		{"--status picks that state", job("failed", ""), resume, "failed", "", true},
		{"--status leaves others", job("running", ""), cancel, "queued", "", false},
		{"--group picks its jobs", job("running", "gpu"), cancel, "", "gpu", true},
		{"--group leaves others", job("running", "io"), cancel, "", "gpu", false},
	}
	for _, tt := range tests {
		if got := selected(tt.j, tt.action, tt.status, tt.group); got != tt.want {
			t.Errorf("%s: selected = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDedupeIDs(t *testing.T) {
	got := dedupe([]string{"a", "b,c", " a ", "", "c,d,"})
	if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("dedupe = %v, want %v", got, want)
	}
}
