package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNextGenerationOnlyGrows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sup")
	now := time.UnixMicro(1000)
	cases := []struct {
		name   string
		before func()
		now    time.Time
		want   uint64
	}{
		{"first start: the clock", nil, now, 1000},
		{"same instant: one more", nil, now, 1001},
		{"clock gone back: one more than the last", nil, time.UnixMicro(5), 1002},
		{"clock ahead: the clock", nil, time.UnixMicro(9000), 9000},
		{"file lost: still above the clock", func() { os.Remove(filepath.Join(dir, generationFile)) }, time.UnixMicro(9500), 9500},
		{"garbage in the file: the clock", func() { os.WriteFile(filepath.Join(dir, generationFile), []byte("x"), 0o600) }, time.UnixMicro(9600), 9600},
	}
	for _, c := range cases {
		if c.before != nil {
			c.before()
		}
		got, err := NextGeneration(dir, c.now)
		if err != nil || got != c.want {
			t.Errorf("%s: got %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}
