package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// generationFile, in the supervisors folder, holds the generation of the
// last conductor that started in the home.
const generationFile = "generation"

// NextGeneration returns a generation newer than every earlier conductor's
// of the home, durable before it is returned: a supervisor trusts the
// newest generation that claimed it, so a number handed out twice (after a
// crash that lost it) could let a dead conductor's late start through.
// The clock sets a floor, so a lost or reset file still yields a newer
// number than before.
func NextGeneration(dir string, now time.Time) (uint64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("create supervisors folder: %w", err)
	}
	path := filepath.Join(dir, generationFile)
	var last uint64
	if b, err := os.ReadFile(path); err == nil {
		last, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	} else if !os.IsNotExist(err) {
		return 0, fmt.Errorf("read conductor generation: %w", err)
	}
	gen := max(last+1, uint64(now.UnixMicro()))
	if err := writeDurably(path, strconv.FormatUint(gen, 10)+"\n"); err != nil {
		return 0, fmt.Errorf("record conductor generation: %w", err)
	}
	return gen, nil
}

// writeDurably replaces path with data, synced (file and folder) before it
// returns.
func writeDurably(path, data string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
