package config_test

import (
	"testing"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/score"
)

// The conductor's default max_sheets_per_job is the score parser's (an
// external test: config/score imports config through the instrument loader).
func TestDefaultMaxSheetsIsTheParsers(t *testing.T) {
	if got := config.Defaults().MaxSheetsPerJob; got != score.DefaultMaxSheets {
		t.Errorf("max_sheets_per_job defaults to %d, the score parser to %d", got, score.DefaultMaxSheets)
	}
}
