package monitor

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/mzt-dev/mzt/config"
)

type recordingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// Per-sheet limits without cgroups cannot be enforced: the conductor says
// so once, not at every reload, and not at all when none is set.
func TestSheetLimitsWithoutCgroupsAreReportedOnce(t *testing.T) {
	rec := &recordingHandler{}
	cfg := config.Defaults()
	a := &Actor{cfg: cfg, log: slog.New(rec)}
	a.applySheetLimits()
	if len(rec.msgs) != 0 {
		t.Fatalf("warned %q with no per-sheet limit set", rec.msgs)
	}
	limited := config.Defaults()
	limited.ResourceLimits.MaxSheetProcesses = 64
	a.cfg = limited
	a.applySheetLimits()
	a.applySheetLimits() // a reload with the same settings
	if len(rec.msgs) != 1 || !strings.Contains(rec.msgs[0], "not enforced") {
		t.Errorf("logged %q, want one warning that the limits are not enforced", rec.msgs)
	}
}
