package jobs

import (
	"slices"
	"strings"
)

// sheetWorkspace applies the stage's own workspace, when it has one, to a
// try's plan and template data: the process runs there, its validations
// look there, and .Workspace and MZT_WORKSPACE say so.
func (in *planInput) sheetWorkspace(plan *attemptPlan) error {
	in.voiceDirs()
	if in.sh.Stage.Workspace == "" && !in.sh.Stage.Worktree {
		return nil
	}
	ws, err := in.sc.SheetWorkspace(in.sh, in.data)
	if err != nil {
		return err
	}
	if in.sh.Stage.Worktree {
		plan.worktree = &worktree{repo: in.sc.Workspace, path: ws, branch: in.sc.WorktreeBranch(in.sh)}
	}
	in.data.Workspace, plan.workspace = ws, ws
	plan.env = setEnv(plan.env, "MZT_WORKSPACE", ws)
	return nil
}

// voiceDirs adds to .Prev the workspace (and branch) of every voice of the
// earlier stages that have their own: a fan-in stage finds its voices'
// work there. (.Prev is this try's own copy.)
func (in *planInput) voiceDirs() {
	for id, ps := range in.data.Prev {
		i := in.sc.StageIndex(id)
		if i < 0 || (in.sc.Stages[i].Workspace == "" && !in.sc.Stages[i].Worktree) {
			continue
		}
		sheets := in.sc.VoiceSheets(i)
		for v := range min(len(ps.Voices), len(sheets)) {
			sh := sheets[v]
			if ws, err := in.sc.SheetWorkspace(sh, in.sc.Data(sh, 1, nil)); err == nil {
				ps.Voices[v].Workspace = ws
			}
			if sh.Stage.Worktree {
				ps.Voices[v].Branch = in.sc.WorktreeBranch(sh)
			}
		}
	}
}

// setEnv returns env with name set to value, replacing an earlier entry.
func setEnv(env []string, name, value string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(e string) bool { return strings.HasPrefix(e, name+"=") })
	return append(out, name+"="+value)
}
