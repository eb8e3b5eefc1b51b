package jobs

import (
	"testing"
	"time"

	"github.com/mzt-dev/mzt/actors/store"
	"github.com/mzt-dev/mzt/messages"
)

// A job row is written again only when some field changed, any field.
func TestSameJobRow(t *testing.T) {
	base := store.JobRow{RunKey: "r", JobID: "j", Status: messages.JobRunning, StartedAt: time.Now(), After: []string{"a"}}
	same := base
	if !sameJobRow(base, same) {
		t.Fatal("a copy differs")
	}
	for name, change := range map[string]func(*store.JobRow){
		"status":      func(r *store.JobRow) { r.Status = messages.JobPaused },
		"finished":    func(r *store.JobRow) { r.FinishedAt = time.Now() },
		"after":       func(r *store.JobRow) { r.After = []string{"b"} },
		"pause why":   func(r *store.JobRow) { r.PauseReason = "budget" },
		"budget":      func(r *store.JobRow) { r.BudgetUSD = 2 },
		"user paused": func(r *store.JobRow) { r.UserPaused = true },
	} {
		r := base
		r.After = append([]string(nil), base.After...)
		change(&r)
		if sameJobRow(base, r) {
			t.Errorf("a change of %s went unseen", name)
		}
	}
}
