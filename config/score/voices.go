package score

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// Per-voice inputs: voice_vars gives each voice of a stage its own values,
// instruments gives each its own instrument (an ensemble), and a stage
// workspace gives each its own directory.

// Instrument is the instrument this sheet runs: its voice's entry of the
// stage's instruments, else the stage's instrument.
func (sh Sheet) Instrument() string {
	if n := len(sh.Stage.Instruments); n > 0 && sh.Voice >= 1 && sh.Voice <= n {
		return sh.Stage.Instruments[sh.Voice-1]
	}
	return sh.Stage.Instrument
}

// InstrumentNames is every instrument the score's sheets may run, sorted.
func (s *Score) InstrumentNames() []string {
	set := map[string]bool{}
	for _, st := range s.Stages {
		if len(st.Instruments) == 0 {
			set[st.Instrument] = true
		}
		for _, n := range st.Instruments {
			set[n] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// voiceVarsOf is voice v's element of every voice_vars array; a voice past
// the end of the arrays gets none (a template that reads one says so).
func (s *Score) voiceVarsOf(v int) map[string]any {
	out := make(map[string]any, len(s.VoiceVars))
	for k, arr := range s.VoiceVars {
		if v >= 1 && v <= len(arr) {
			out[k] = arr[v-1]
		}
	}
	return out
}

// voiceVarCount is the common length of the voice_vars arrays (0: none).
func (s *Score) voiceVarCount() int {
	for _, arr := range s.VoiceVars {
		return len(arr)
	}
	return 0
}

// voiceVars checks that every voice_vars value is a non-empty array and
// that all have the same length.
func (p *parser) voiceVars(raw map[string]any) map[string][]any {
	out := map[string][]any{}
	first := ""
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		key := "voice_vars." + k
		arr, ok := raw[k].([]any)
		switch {
		case !ok:
			p.at(key, "voice_vars.%s must be an array, one element per voice, not %s", k, tomlKind(raw[k]))
			continue
		case len(arr) == 0:
			p.at(key, "voice_vars.%s is empty: give one element per voice", k)
			continue
		case len(arr) > MaxVoices:
			p.at(key, "voice_vars.%s has %d elements, more than the %d voices a stage may have", k, len(arr), MaxVoices)
			continue
		case first != "" && len(arr) != len(out[first]):
			p.at(key, "voice_vars.%s has %d elements but voice_vars.%s has %d: every voice_vars array needs one element per voice", k, len(arr), first, len(out[first]))
			continue
		}
		if first == "" {
			first = k
		}
		out[k] = arr
	}
	return out
}

func tomlKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case map[string]any:
		return "a table"
	case bool:
		return "a boolean"
	case int64, float64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// usesVoiceVars reports whether any template of the stage reads .VoiceVars:
// such a stage without voices gets one voice per element.
func usesVoiceVars(r *rawStage, promptText string) bool {
	texts := []string{promptText}
	if r.Workspace != nil {
		texts = append(texts, *r.Workspace)
	}
	for _, v := range r.Validate {
		for _, f := range []*string{v.Path, v.Pattern, v.Contains, v.Run} {
			if f != nil {
				texts = append(texts, *f)
			}
		}
	}
	for _, t := range texts {
		if strings.Contains(t, ".VoiceVars") {
			return true
		}
	}
	return false
}

// stageVoices resolves a stage's voices, its instruments and its workspace:
// voices left out are the number of instruments, else (when the stage reads
// voice_vars) the length of the voice_vars arrays, else 1.
func (p *parser) stageVoices(s *Score, st *Stage, r *rawStage, key, name string) {
	usesVV := usesVoiceVars(r, st.PromptText)
	n := s.voiceVarCount()
	switch {
	case r.Voices != nil:
		st.Voices = *r.Voices
		if st.Voices < 1 || st.Voices > MaxVoices {
			p.at(key+".voices", "voices must be between 1 and %d, not %d", MaxVoices, st.Voices)
			st.Voices = max(1, min(st.Voices, MaxVoices))
		}
	case len(r.Instruments) > 0:
		st.Voices = min(len(r.Instruments), MaxVoices)
	case usesVV && n > 0:
		st.Voices = n
	default:
		st.Voices = DefaultVoices
	}
	if r.Instruments != nil {
		st.Instruments = r.Instruments
		if len(r.Instruments) != st.Voices {
			p.at(key+".instruments", "stage %s lists %d instruments for %d voices: give one per voice", name, len(r.Instruments), st.Voices)
		}
		for j, inst := range r.Instruments {
			p.checkInstrument(fmt.Sprintf("%s.instruments[%d]", key, j), inst)
		}
	}
	if usesVV && n > 0 && st.Voices > n {
		p.at(key, "stage %s has %d voices but the voice_vars arrays have %d elements: give one element per voice", name, st.Voices, n)
	}
	if r.Workspace != nil {
		st.Workspace = *r.Workspace
		if strings.TrimSpace(st.Workspace) == "" {
			p.at(key+".workspace", "stage %s has an empty workspace: leave it out to use the score's", name)
		}
	}
	if r.Worktree != nil && *r.Worktree {
		st.Worktree = true
		// Two voices in one worktree would share a checkout and a branch.
		if st.Workspace != "" && st.Voices > 1 && !strings.Contains(st.Workspace, ".Voice") {
			p.at(key+".workspace", "stage %s: with worktree = true each voice needs its own workspace: put {{.Voice}} in it, or leave workspace out", name)
		}
	}
}

// WorktreeBranch is the branch of a worktree voice: mzt/<job>/<stage>-<voice>.
func (s *Score) WorktreeBranch(sh Sheet) string {
	return fmt.Sprintf("mzt/%s/%s-%d", s.ID, sh.Stage.ID, sh.Voice)
}

// VoiceSheets are the sheets of stage i, voice 1 first, without their
// dependencies: cheaper than Sheets when one stage is wanted.
func (s *Score) VoiceSheets(i int) []Sheet {
	first := 1
	for k := range i {
		first += s.Stages[k].Voices
	}
	st := &s.Stages[i]
	out := make([]Sheet, st.Voices)
	for v := range out {
		out[v] = Sheet{Num: first + v, Stage: st, StageIndex: i, Voice: v + 1, VoiceCount: st.Voices}
	}
	return out
}

// checkInstrument reports an empty or unknown instrument name at key.
func (p *parser) checkInstrument(key, name string) {
	switch {
	case name == "":
		p.at(key, "instrument must not be empty")
	case p.instruments != nil && !p.instruments[name]:
		msg := fmt.Sprintf("unknown instrument %q", name)
		known := slices.Sorted(maps.Keys(p.instruments))
		if s := suggestInstrument(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			msg += fmt.Sprintf(" (known: %s)", strings.Join(known, ", "))
		}
		p.at(key, "%s", msg)
	}
}

// SheetWorkspace is the directory sheet sh runs in: its stage's workspace
// rendered with data (relative to the score's directory), else the score's.
func (s *Score) SheetWorkspace(sh Sheet, data TemplateData) (string, error) {
	if sh.Stage.Workspace == "" {
		if sh.Stage.Worktree {
			// Beside the repository, not in it: a worktree inside the
			// checkout would show as untracked files there.
			return filepath.Join(s.Dir, "worktrees", s.ID, fmt.Sprintf("%s-%d", sh.Stage.ID, sh.Voice)), nil
		}
		return s.Workspace, nil
	}
	ws, err := Render(fmt.Sprintf("stage %s workspace", sh.Stage.ID), sh.Stage.Workspace, data)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(ws) == "" {
		return "", fmt.Errorf("stage %s workspace renders empty", sh.Stage.ID)
	}
	if !filepath.IsAbs(ws) {
		ws = filepath.Join(s.Dir, ws)
	}
	return filepath.Clean(ws), nil
}
