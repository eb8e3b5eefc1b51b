package cli

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// completeAsk bounds how long a completion waits for the conductor: a
// shell must never hang on a TAB.
const completeAsk = 300 * time.Millisecond

// maxCompletions bounds what one completion prints.
const maxCompletions = 500

// CompleteCmd is the hidden `mzt __complete KIND`: the words the shell
// scripts offer for a job id (active jobs first), a group or a clone, one
// a line. Without an answer in time it prints nothing and exits 0.
type CompleteCmd struct {
	Kind string `arg:"" enum:"job,group,clone"`
}

func (c *CompleteCmd) Run(g *Globals) error {
	var words []string
	switch c.Kind {
	case "clone":
		words = cloneNames(g.paths.BaseHome)
	default:
		ctx, cancel := context.WithTimeout(g.ctx, completeAsk)
		defer cancel()
		g.ctx = ctx // the dial, too, gives up with it
		if c.Kind == "job" {
			words = jobIDs(g)
		} else {
			words = groupNames(g)
		}
	}
	if len(words) > maxCompletions {
		words = words[:maxCompletions]
	}
	for _, w := range words {
		g.printf("%s\n", w)
	}
	return nil
}

// jobIDs lists active jobs (as the conductor orders them) before finished ones.
func jobIDs(g *Globals) []string {
	list, err := call[*messages.JobList](g, g.ctx, &messages.ListJobsRequest{All: true})
	if err != nil {
		return nil
	}
	var active, done []string
	for _, j := range list.GetJobs() {
		if finished(j.GetStatus()) {
			done = append(done, j.GetId())
		} else {
			active = append(active, j.GetId())
		}
	}
	return append(active, done...)
}

func groupNames(g *Globals) []string {
	list, err := call[*messages.GroupList](g, g.ctx, &messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_LIST})
	if err != nil {
		return nil
	}
	var out []string
	for _, gr := range list.GetGroups() {
		out = append(out, gr.GetName())
	}
	return out
}

// cloneNames are the clone folders under the base home with a valid name.
func cloneNames(base string) []string {
	entries, err := os.ReadDir(filepath.Join(base, "clones"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && config.ValidateCloneName(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}
