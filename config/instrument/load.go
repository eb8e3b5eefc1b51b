package instrument

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/config/strict"
)

// Load returns the built-in profiles overridden by <dir>/*.toml; a missing dir
// means just the built-ins. A file's name key, when set, must equal the file
// name without ".toml", so that what a score names is what ls shows.
//
// The folder and each file must be trusted (config.CheckTrusted): a profile
// names what runs, so one another user owns or could write is refused.
//
// Problems in the files come back as strict.Problems with file:line. The map is
// returned even then, with the built-ins and every valid file, so that a caller
// such as `mzt instruments` can still show what works.
func Load(dir string) (map[string]*Profile, error) {
	profiles := Builtins()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return profiles, nil
	}
	if err != nil {
		return profiles, fmt.Errorf("read instruments: %w", err)
	}
	if err := config.CheckTrusted(dir); err != nil {
		return profiles, fmt.Errorf("instruments: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var all strict.Problems
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".toml") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := config.CheckTrusted(path); err != nil {
			all = append(all, strict.Problem{File: path, Msg: err.Error()})
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			all = append(all, strict.Problem{File: path, Msg: err.Error()})
			continue
		}
		p, err := Parse(path, data)
		if err != nil {
			var ps strict.Problems
			if !errors.As(err, &ps) {
				return profiles, err
			}
			all = append(all, ps...)
			continue
		}
		profiles[p.Name] = p
	}
	if len(all) > 0 {
		return profiles, all
	}
	return profiles, nil
}

// Parse reads one user profile; path names it (its file name is the default
// name) and is used in messages. Omitted keys take the defaults of a user
// profile, not those of a built-in of the same name: a user file replaces a
// built-in whole.
func Parse(path string, data []byte) (*Profile, error) {
	p := newProfile()
	if err := strict.Decode(path, data, p); err != nil {
		return nil, err
	}
	stem := strings.TrimSuffix(filepath.Base(path), ".toml")
	var ps strict.Problems
	switch p.Name {
	case "":
		p.Name = stem
	case stem:
	default:
		ps = append(ps, strict.Problem{Key: "name", Msg: fmt.Sprintf("name %q must match the file name %q (or be left out)", p.Name, stem)})
	}
	if p.OutputFormat == "" {
		p.OutputFormat = OutputText
	}
	p.Source = path
	if err := p.Validate(); err != nil {
		var vps strict.Problems
		if !errors.As(err, &vps) {
			return nil, err
		}
		ps = append(ps, vps...)
	}
	if len(ps) == 0 {
		return p, nil
	}
	pos := strict.Locate(data)
	for i := range ps {
		ps[i].File = path
		ps[i].Line, ps[i].Col = pos.Pos(ps[i].Key)
	}
	ps.Sort()
	return nil, ps
}
