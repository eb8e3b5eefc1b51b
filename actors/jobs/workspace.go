package jobs

import (
	"slices"
	"strings"
)

// sheetWorkspace applies the stage's own workspace, when it has one, to a
// try's plan and template data: the process runs there, its validations
// look there, and .Workspace and MZT_WORKSPACE say so.
func (in *planInput) sheetWorkspace(plan *attemptPlan) error {
	if in.sh.Stage.Workspace == "" {
		return nil
	}
	ws, err := in.sc.SheetWorkspace(in.sh, in.data)
	if err != nil {
		return err
	}
	in.data.Workspace, plan.workspace = ws, ws
	plan.env = setEnv(plan.env, "MZT_WORKSPACE", ws)
	return nil
}

// setEnv returns env with name set to value, replacing an earlier entry.
func setEnv(env []string, name, value string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(e string) bool { return strings.HasPrefix(e, name+"=") })
	return append(out, name+"="+value)
}
