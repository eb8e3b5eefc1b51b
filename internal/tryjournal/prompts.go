package tryjournal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// AppendPrompt records the rendered prompt of the try whose prompt file
// would be path, in the journal beside it.
func AppendPrompt(path string, prompt []byte) error {
	return Append(filepath.Join(filepath.Dir(path), Name), filepath.Base(path), prompt)
}

// MaterializePrompt makes sure the prompt file path exists when its try
// recorded a prompt: a try writes its prompt to its run's journal (a file
// of its own only when its instrument reads it from one), and the file is
// made from the journal the first time someone asks for it (mzt logs
// --prompt, the sheet detail that shows its path). Nothing recorded, no
// file: not an error.
func MaterializePrompt(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil // there already (or not ours to judge)
	}
	prompt, ok, err := Find(filepath.Join(filepath.Dir(path), Name), filepath.Base(path))
	if err != nil || !ok {
		return err
	}
	// Whole or not at all: a reader racing this must not see half of it.
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write prompt file: %w", err)
	}
	_, err = tmp.Write(prompt)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write prompt file: %w", err)
	}
	return nil
}
