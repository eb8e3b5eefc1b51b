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
	return writeWhole(path, prompt)
}

// writeWhole writes a prompt file whole or not at all: a reader racing
// this must not see half of it.
func writeWhole(path string, prompt []byte) error {
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

// MaterializePrompts is MaterializePrompt for several prompt files of one
// run's folder, reading its journal once.
func MaterializePrompts(paths []string) error {
	missing := map[string]string{} // record name -> path
	dir := ""
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil || !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if dir != "" && filepath.Dir(p) != dir {
			return fmt.Errorf("prompt files of more than one run: %s and %s", dir, filepath.Dir(p))
		}
		dir = filepath.Dir(p)
		missing[filepath.Base(p)] = p
	}
	if len(missing) == 0 {
		return nil
	}
	found, err := ReadNamed(filepath.Join(dir, Name), func(n string) bool { _, ok := missing[n]; return ok })
	if err != nil {
		return err
	}
	for name, prompt := range found {
		if err := writeWhole(missing[name], prompt); err != nil {
			return err
		}
	}
	return nil
}

// CarryPrompts copies the prompt records of one run's journal (in folder
// from) into another's (in folder to), renamed by rename (old record name ->
// new), in one read and one append: a re-run keeps the earlier run's
// prompts of the sheets it reuses, under their new numbers.
func CarryPrompts(from, to string, rename map[string]string) error {
	if len(rename) == 0 {
		return nil
	}
	found, err := ReadNamed(filepath.Join(from, Name), func(n string) bool { _, ok := rename[n]; return ok })
	if err != nil {
		return err
	}
	recs := make([]Record, 0, len(found))
	for old, prompt := range found {
		recs = append(recs, Record{Name: rename[old], Payload: prompt})
	}
	return AppendRecords(filepath.Join(to, Name), recs)
}
