package score

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mzt-dev/mzt/config/strict"
)

// StageHash is a short hash of everything that decides what a stage's
// sheets do: its prompt text, validations, settings, voices, instruments,
// workspace and dependencies, and the score's vars and workspace, which its
// templates may read. A re-run keeps a completed sheet only while this is
// unchanged. Line numbers are left out: moving a stage changes nothing.
func (s *Score) StageHash(i int) string {
	st := s.Stages[i]
	validate := make([]Validation, len(st.Validate))
	for k, v := range st.Validate {
		v.Line = 0
		validate[k] = v
	}
	def := struct {
		ID, PromptText, Workspace, ScoreWorkspace string
		DependsOn, Instruments                    []string
		Voices                                    int
		Worktree                                  bool
		Settings                                  Settings
		Validate                                  []Validation
		Vars                                      map[string]any
		VoiceVars                                 map[string][]any
	}{st.ID, st.PromptText, st.Workspace, s.Workspace, st.DependsOn, st.Instruments, st.Voices, st.Worktree, st.Settings,
		validate, s.Vars, s.VoiceVars}
	data, err := json.Marshal(def) // maps marshal with sorted keys: the same stage hashes the same
	if err != nil {
		data = fmt.Appendf(nil, "%#v", def)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// StageIndex is the index of the stage with id, or -1.
func (s *Score) StageIndex(id string) int {
	if i, ok := s.index()[id]; ok {
		return i
	}
	return -1
}

// Dependents marks the stages that depend on stage j, directly or not.
func (s *Score) Dependents(j int) []bool { return s.dependents(j) }

// UnknownStage says that id names no stage of the score, with a "did you
// mean" when one is close.
func (s *Score) UnknownStage(id string) error {
	ids := make([]string, len(s.Stages))
	for i, st := range s.Stages {
		ids[i] = st.ID
	}
	msg := fmt.Sprintf("the score has no stage %q", id)
	if sug := strict.Suggest(id, ids); sug != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sug)
	} else {
		msg += fmt.Sprintf(" (stages: %s)", strings.Join(ids, ", "))
	}
	return fmt.Errorf("%s", msg)
}
