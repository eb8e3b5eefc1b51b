package score

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mzt-dev/mzt/config/strict"
)

var stageIDRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// checkSettings checks the keys of [defaults] or of one stage where they are
// written, so each mistake is reported once, at its line.
func (p *parser) checkSettings(key string, r *rawSettings) {
	k := func(name string) string {
		if key == "" {
			return name
		}
		return key + "." + name
	}
	if r.Instrument != nil {
		p.checkInstrument(k("instrument"), *r.Instrument)
	}
	if r.Timeout != nil && *r.Timeout <= 0 {
		p.at(k("timeout"), "timeout must be more than 0, not %s", *r.Timeout)
	}
	if r.Attempts != nil && *r.Attempts < 1 {
		p.at(k("attempts"), "attempts must be 1 or more, not %d", *r.Attempts)
	}
	if r.StallAfter != nil && *r.StallAfter <= 0 {
		p.at(k("stall_after"), "stall_after must be more than 0, not %s", *r.StallAfter)
	}
	if r.OnStall != nil && *r.OnStall != OnStallFlag && *r.OnStall != OnStallRetry {
		p.at(k("on_stall"), "on_stall must be %q or %q, not %q", OnStallFlag, OnStallRetry, *r.OnStall)
	}
	if r.MaxRateLimitWait != nil && *r.MaxRateLimitWait <= 0 {
		p.at(k("max_rate_limit_wait"), "max_rate_limit_wait must be more than 0, not %s", *r.MaxRateLimitWait)
	}
	if b := r.Backoff; b != nil {
		if b.Base != nil && *b.Base < 0 {
			p.at(k("backoff.base"), "backoff.base must not be negative")
		}
		if b.Max != nil && *b.Max < 0 {
			p.at(k("backoff.max"), "backoff.max must not be negative")
		}
		if b.Base != nil && b.Max != nil && *b.Max < *b.Base {
			p.at(k("backoff.max"), "backoff.max (%s) must not be less than backoff.base (%s)", *b.Max, *b.Base)
		}
		if b.Factor != nil && !(*b.Factor >= 1) {
			p.at(k("backoff.factor"), "backoff.factor must be 1 or more, not %g", *b.Factor)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.Env)) {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			p.at(k("env"), "env name %q must be non-empty and contain no '='", name)
		}
	}
}

// resolve merges a stage's settings over [defaults] over the package defaults.
func resolve(d, s *rawSettings) Settings {
	jitter := true
	out := Settings{
		Attempts:         DefaultAttempts,
		MaxRateLimitWait: strict.Duration(DefaultMaxRateLimitWait),
		Backoff: &Backoff{
			Base:   strict.Duration(DefaultBackoffBase),
			Max:    strict.Duration(DefaultBackoffMax),
			Factor: DefaultBackoffFactor,
			Jitter: &jitter,
		},
		Env: map[string]string{},
	}
	for _, r := range []*rawSettings{d, s} {
		set(&out.Instrument, r.Instrument)
		set(&out.Model, r.Model)
		set(&out.Timeout, r.Timeout)
		set(&out.Attempts, r.Attempts)
		set(&out.MaxRateLimitWait, r.MaxRateLimitWait)
		set(&out.StallAfter, r.StallAfter)
		set(&out.OnStall, r.OnStall)
		if b := r.Backoff; b != nil {
			set(&out.Backoff.Base, b.Base)
			set(&out.Backoff.Max, b.Max)
			set(&out.Backoff.Factor, b.Factor)
			if b.Jitter != nil {
				j := *b.Jitter
				out.Backoff.Jitter = &j
			}
		}
		maps.Copy(out.Env, r.Env)
	}
	return out
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// stages builds every stage, checking what can be checked one stage at a time.
func (p *parser) stages(raw *rawScore, dir string, s *Score) []Stage {
	stages := make([]Stage, len(raw.Stage))
	firstLine := map[string]int{} // stage id -> line of the stage that took it
	for i := range raw.Stage {
		r := &raw.Stage[i]
		key := stageKey(i)
		st := &stages[i]
		st.ID = r.ID
		st.Line = p.pos.Line(key)
		switch {
		case r.ID == "":
			p.at(key, "stage %d has no id: add id = \"...\" ([a-z][a-z0-9_]*)", i+1)
		case !stageIDRE.MatchString(r.ID):
			// Ids are used as .Prev.<id> in templates, which needs this shape.
			p.at(key+".id", "stage id %q must be lowercase letters, digits and _, starting with a letter", r.ID)
		case firstLine[r.ID] != 0:
			p.at(key+".id", "stage id %q is already used by the stage on line %d", r.ID, firstLine[r.ID])
		default:
			firstLine[r.ID] = st.Line
		}
		name := r.ID
		if name == "" {
			name = fmt.Sprint(i + 1)
		}

		p.checkSettings(key, &r.rawSettings)
		st.Settings = resolve(&raw.Defaults, &r.rawSettings)
		if st.Instrument == "" && r.Instruments == nil {
			p.at(key, "stage %s has no instrument: set instrument in [defaults] or in the stage", name)
		}
		p.checkRunnable(key, name, st.Instrument, r.Instrument != nil)

		p.prompt(st, r, key, name, dir)
		p.stageVoices(s, st, r, key, name)
		st.Validate = p.validations(r.Validate, key, name)
		st.DependsOn = r.DependsOn
	}
	return stages
}

// prompt checks that exactly one of prompt and prompt_file is set, and reads the file.
func (p *parser) prompt(st *Stage, r *rawStage, key, name, dir string) {
	switch {
	case r.Prompt != nil && r.PromptFile != nil:
		p.at(key+".prompt_file", "stage %s has both prompt and prompt_file: keep one", name)
	case r.Prompt == nil && r.PromptFile == nil:
		p.at(key, "stage %s has no prompt: set prompt or prompt_file", name)
	case r.Prompt != nil:
		st.Prompt = *r.Prompt
		st.PromptText = st.Prompt
		if strings.TrimSpace(st.Prompt) == "" {
			p.at(key+".prompt", "stage %s has an empty prompt", name)
		}
	default:
		st.PromptFile = *r.PromptFile
		if st.PromptFile == "" {
			p.at(key+".prompt_file", "stage %s has an empty prompt_file", name)
			return
		}
		path := st.PromptFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			p.at(key+".prompt_file", "prompt file %s not found (prompt_file is relative to the score's directory)", p.relative(st.PromptFile))
		case err != nil:
			p.at(key+".prompt_file", "cannot read prompt file: %v", err)
		default:
			st.PromptText = string(data)
			if strings.TrimSpace(st.PromptText) == "" {
				p.at(key+".prompt_file", "prompt file %s is empty", p.relative(st.PromptFile))
			}
		}
	}
}

// validationKeys lists the keys a validation type needs and those it may
// have; every other key is refused, since nothing would act on it.
func validationKeys(typ string) (required, optional []string, ok bool) {
	switch typ {
	case FileExists, FileModified:
		return []string{"path"}, []string{"since"}, true
	case ContentContains:
		return []string{"path", "contains"}, []string{"since"}, true
	case ContentRegex:
		return []string{"path", "pattern"}, []string{"since"}, true
	case Command:
		return []string{"run"}, []string{"timeout"}, true
	default:
		return nil, nil, false
	}
}

// validationTypes in the order the contract lists them, for messages.
func validationTypes() []string {
	return []string{FileExists, FileModified, ContentContains, ContentRegex, Command}
}

func (p *parser) validations(raws []rawValidation, stageKey, stage string) []Validation {
	out := make([]Validation, 0, len(raws))
	for j, r := range raws {
		key := fmt.Sprintf("%s.validate[%d]", stageKey, j)
		v := Validation{Type: r.Type, Line: p.pos.Line(key)}
		present := map[string]bool{}
		for name, val := range map[string]*string{"path": r.Path, "pattern": r.Pattern, "contains": r.Contains, "run": r.Run} {
			if val != nil {
				present[name] = true
			}
		}
		if r.Timeout != nil {
			present["timeout"] = true
		}
		if r.Since != nil {
			present["since"] = true
		}
		set(&v.Path, r.Path)
		set(&v.Pattern, r.Pattern)
		set(&v.Contains, r.Contains)
		set(&v.Run, r.Run)
		set(&v.Timeout, r.Timeout)
		out = append(out, v)

		required, optional, ok := validationKeys(r.Type)
		if !ok {
			what := fmt.Sprintf("unknown validation type %q", r.Type)
			if r.Type == "" {
				what = "validation has no type"
			} else if s := strict.Suggest(r.Type, validationTypes()); s != "" {
				what += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.at(key+".type", "stage %s: %s; valid types: %s", stage, what, strings.Join(validationTypes(), ", "))
			continue
		}
		for _, name := range required {
			if !present[name] {
				p.at(key, "stage %s: a %s validation needs %s", stage, r.Type, name)
			}
		}
		allowed := append(slices.Clone(required), optional...)
		var extra []string
		for name := range present {
			if !slices.Contains(allowed, name) {
				extra = append(extra, name)
			}
		}
		sort.Strings(extra)
		for _, name := range extra {
			p.at(key+"."+name, "stage %s: a %s validation does not use %s (it uses type, %s)", stage, r.Type, name, strings.Join(allowed, ", "))
		}
		// An empty value would make the check pass (or fail) whatever happened.
		// (contains = " " is a legitimate, if odd, thing to look for.)
		for _, f := range []struct {
			name  string
			empty bool
		}{
			{"path", strings.TrimSpace(v.Path) == ""},
			{"run", strings.TrimSpace(v.Run) == ""},
			{"pattern", v.Pattern == ""},
			{"contains", v.Contains == ""},
		} {
			if present[f.name] && slices.Contains(allowed, f.name) && f.empty {
				p.at(key+"."+f.name, "stage %s: validation %s is empty", stage, f.name)
			}
		}
		if r.Type == ContentRegex && present["pattern"] && !strings.Contains(v.Pattern, "{{") {
			// A pattern with template actions is compiled by the engine once rendered.
			if _, err := regexp.Compile(v.Pattern); err != nil {
				p.at(key+".pattern", "stage %s: invalid pattern: %v", stage, err)
			}
		}
		if r.Type != Command && slices.Contains(optional, "since") {
			out[len(out)-1].Since = SinceRun
			if r.Since != nil {
				out[len(out)-1].Since = *r.Since
				if !slices.Contains(sinceValues(), *r.Since) {
					what := fmt.Sprintf("since must be %q, %q or %q, not %q", SinceRun, SinceTry, SinceAny, *r.Since)
					if s := strict.Suggest(*r.Since, sinceValues()); s != "" {
						what += fmt.Sprintf(" (did you mean %q?)", s)
					}
					p.at(key+".since", "stage %s: %s", stage, what)
				}
			}
		}
		if r.Type == Command {
			if r.Timeout == nil {
				out[len(out)-1].Timeout = strict.Duration(DefaultCommandTimeout)
			} else if *r.Timeout <= 0 {
				p.at(key+".timeout", "stage %s: validation timeout must be more than 0, not %s", stage, *r.Timeout)
			}
		}
	}
	return out
}

// suggestInstrument is the known name a mistyped one probably meant: a close
// spelling, or the one name it is the start of ("claude" for "claude-code").
func suggestInstrument(name string, known []string) string {
	if s := strict.Suggest(name, known); s != "" {
		return s
	}
	var hit string
	for _, k := range known {
		lk, ln := strings.ToLower(k), strings.ToLower(name)
		if strings.HasPrefix(lk, ln) || strings.HasPrefix(ln, lk) {
			if hit != "" {
				return "" // ambiguous
			}
			hit = k
		}
	}
	return hit
}

// checkRunnable refuses a stage whose instrument cannot run on this host,
// before any paid try of an earlier stage is spent. The problem is put on
// the line that chose the instrument: the stage's, else [defaults].
func (p *parser) checkRunnable(key, name, instrument string, own bool) {
	if p.unrunnable == nil || instrument == "" || p.instruments == nil || !p.instruments[instrument] {
		return
	}
	why := p.unrunnable(instrument)
	if why == "" {
		return
	}
	where := "defaults.instrument"
	if own {
		where = key + ".instrument"
	}
	p.at(where, "stage %s: instrument %q %s", name, instrument, why)
}
