package tryjournal

import (
	"fmt"
	"os"
	"path/filepath"
)

// Prepare makes a run's log folder and its empty journal ahead of the
// run's first try. Creating a folder and a file costs far more than
// appending to an existing one (on a busy ext4, up to a millisecond each),
// and a queued job's first try would otherwise pay for both between its
// slot grant and its process start. Idempotent: a try that starts first
// creates them itself.
func Prepare(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create log folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, Name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	return f.Close()
}
