package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
)

// queueFlags are run's queue controls.
type queueFlags struct {
	After    []string `help:"Start only after these jobs finished (comma-separated); if one fails or is cancelled, this job is cancelled." placeholder:"JOB"`
	AfterAny bool     `help:"With --after: start once they finished, whatever their outcome."`
	Priority int64    `help:"Higher runs first among queued jobs (first come, first served within a priority)." default:"0"`
	Group    string   `help:"Run in this group (mzt group add), which limits how many of its jobs run at once."`
}

// GroupCmd is `mzt group add|list|rm`.
type GroupCmd struct {
	Add  GroupAddCmd  `cmd:"" help:"Create a group, or change how many of its jobs run at once."`
	List GroupListCmd `cmd:"" help:"List groups with their running and queued jobs."`
	Rm   GroupRmCmd   `cmd:"" help:"Remove a group with no unfinished jobs."`
}

// GroupAddCmd is `mzt group add NAME --parallel N`.
type GroupAddCmd struct {
	Name     string `arg:"" help:"Group name."`
	Parallel int64  `help:"How many of its jobs run at once." default:"1"`
}

func (c *GroupAddCmd) Run(g *Globals) error {
	if c.Parallel < 1 {
		return failf(exitUsage, "", "--parallel must be at least 1 (got %d)", c.Parallel)
	}
	if _, err := groupCall(g, &messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_ADD,
		Name: c.Name, Parallel: c.Parallel}); err != nil {
		return err
	}
	g.printf("group %s: %d at once\n", c.Name, c.Parallel)
	return nil
}

// GroupListCmd is `mzt group list`.
type GroupListCmd struct {
	JSON bool `help:"Print one JSON object."`
}

type groupJSON struct {
	Name     string `json:"name"`
	Parallel int64  `json:"parallel"`
	Running  int64  `json:"running"`
	Queued   int64  `json:"queued"`
}

func (c *GroupListCmd) Run(g *Globals) error {
	list, err := groupCall(g, &messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_LIST})
	if err != nil {
		return err
	}
	if c.JSON {
		groups := make([]groupJSON, 0, len(list.GetGroups()))
		for _, gr := range list.GetGroups() {
			groups = append(groups, groupJSON{gr.GetName(), gr.GetParallel(), gr.GetRunning(), gr.GetQueued()})
		}
		return g.printJSON(struct {
			Schema string      `json:"schema"`
			Groups []groupJSON `json:"groups"`
		}{schema, groups})
	}
	if len(list.GetGroups()) == 0 {
		g.printf("no groups\n")
		return nil
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tPARALLEL\tRUNNING\tQUEUED")
	for _, gr := range list.GetGroups() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", gr.GetName(), gr.GetParallel(), gr.GetRunning(), gr.GetQueued())
	}
	tw.Flush()
	g.printf("%s", b.String())
	return nil
}

// GroupRmCmd is `mzt group rm NAME`.
type GroupRmCmd struct {
	Name string `arg:"" help:"Group name."`
}

func (c *GroupRmCmd) Run(g *Globals) error {
	_, err := groupCall(g, &messages.GroupRequest{Action: messages.GroupAction_GROUP_ACTION_REMOVE, Name: c.Name})
	if errors.Is(err, client.ErrJobNotFound) {
		return failf(exitFailed, "mzt group list", "group %s does not exist", c.Name)
	}
	if err != nil {
		return err
	}
	g.printf("group %s removed\n", c.Name)
	return nil
}

func groupCall(g *Globals, req *messages.GroupRequest) (*messages.GroupList, error) {
	return call[*messages.GroupList](g, g.ctx, req)
}
