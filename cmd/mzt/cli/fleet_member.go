package cli

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// fleetHealthJSON is a member's view of its fleet in conductor-status.
type fleetHealthJSON struct {
	Member        string `json:"member"`
	EtcdReachable bool   `json:"etcd_reachable"`
	EtcdError     string `json:"etcd_error,omitempty"`
	OwnedJobs     int64  `json:"owned_jobs"`
	Claiming      bool   `json:"claiming"`
	// Safety says why the member runs or stopped its fleet jobs while
	// etcd does not renew its lease; FencedAt when it stopped them.
	Safety   string `json:"safety,omitempty"`
	FencedAt string `json:"fenced_at,omitempty"`
}

func toFleetHealthJSON(h *messages.FleetHealth) *fleetHealthJSON {
	if h == nil {
		return nil
	}
	out := &fleetHealthJSON{Member: h.GetMember(), EtcdReachable: h.GetEtcdReachable(), EtcdError: h.GetEtcdError(),
		OwnedJobs: h.GetOwnedJobs(), Claiming: h.GetClaiming(), Safety: h.GetSafety()}
	if ns := h.GetFencedUnixNano(); ns != 0 {
		out.FencedAt = time.Unix(0, ns).UTC().Format(time.RFC3339)
	}
	return out
}

func fleetHealthText(h *messages.FleetHealth) string {
	if h.GetEtcdReachable() {
		claiming := "claiming jobs"
		if !h.GetClaiming() {
			claiming = "not claiming (lease not confirmed)"
		}
		return fmt.Sprintf("member %s · etcd reachable · %d fleet jobs here · %s", h.GetMember(), h.GetOwnedJobs(), claiming)
	}
	if h.GetSafety() != "" {
		return fmt.Sprintf("member %s · %s · %d fleet jobs here (%s)", h.GetMember(), h.GetSafety(), h.GetOwnedJobs(), h.GetEtcdError())
	}
	return fmt.Sprintf("member %s · etcd unreachable (%s) · running its %d fleet jobs, claiming none",
		h.GetMember(), h.GetEtcdError(), h.GetOwnedJobs())
}

func writeFleetHealth(b *strings.Builder, h *messages.FleetHealth) {
	if h != nil {
		fmt.Fprintf(b, "  fleet      %s\n", fleetHealthText(h))
	}
}

type fleetMemberJSON struct {
	Name          string           `json:"name"`
	Address       string           `json:"address"`
	Version       string           `json:"version"`
	PID           int64            `json:"pid"`
	Pressure      string           `json:"pressure"`
	FreeJobs      int64            `json:"free_jobs"`
	FreeSheets    int64            `json:"free_sheets"`
	RunningJobs   int64            `json:"running_jobs"`
	RunningSheets int64            `json:"running_sheets"`
	OwnedJobs     int64            `json:"owned_jobs"`
	Instruments   map[string]int64 `json:"instruments"`
	UpdatedAt     string           `json:"updated_at"`
}

type fleetEtcdJSON struct {
	Schema  string            `json:"schema"`
	Self    *fleetHealthJSON  `json:"self"`
	Members []fleetMemberJSON `json:"members"`
}

// etcdStatus is `mzt fleet status` on a fleet member: the members as they
// registered in etcd, asked of this host's conductor or of the member
// --remote names (the CLI never talks to etcd itself).
func (c *FleetStatusCmd) etcdStatus(g *Globals) error {
	st, err := call[*messages.FleetStatus](g, g.ctx, &messages.FleetStatusRequest{})
	if err != nil {
		return err
	}
	out := fleetEtcdJSON{Schema: schema, Self: toFleetHealthJSON(st.GetSelf()), Members: []fleetMemberJSON{}}
	for _, m := range st.GetMembers() {
		out.Members = append(out.Members, fleetMemberJSON{Name: m.GetName(), Address: m.GetAddress(), Version: m.GetVersion(),
			PID: m.GetPid(), Pressure: m.GetPressure(), FreeJobs: m.GetFreeJobs(), FreeSheets: m.GetFreeSheets(),
			RunningJobs: m.GetRunningJobs(), RunningSheets: m.GetRunningSheets(), OwnedJobs: m.GetOwnedJobs(),
			Instruments: m.GetInstruments(), UpdatedAt: time.Unix(0, m.GetUpdatedUnixNano()).UTC().Format(time.RFC3339)})
	}
	sort.Slice(out.Members, func(i, j int) bool { return out.Members[i].Name < out.Members[j].Name })
	if c.JSON {
		return g.printJSON(out)
	}
	g.printf("%s\n", fleetHealthText(st.GetSelf()))
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tADDRESS\tPRESSURE\tJOBS\tFREE JOBS\tSHEETS\tFREE SHEETS\tFLEET JOBS\tVERSION")
	for _, m := range out.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", m.Name, m.Address, m.Pressure, m.RunningJobs, m.FreeJobs,
			m.RunningSheets, m.FreeSheets, m.OwnedJobs, m.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	g.printf("%d members\n", len(out.Members))
	return nil
}

// FleetListCmd is `mzt fleet list`.
type FleetListCmd struct {
	JSON bool `help:"Print one JSON object."`
}

type fleetJobJSON struct {
	ID          string  `json:"id"`
	State       string  `json:"state"`
	Member      string  `json:"member"`
	Priority    int64   `json:"priority"`
	SubmittedBy string  `json:"submitted_by"`
	User        string  `json:"user"`
	SubmittedAt string  `json:"submitted_at"`
	Placements  int64   `json:"placements"`
	Reason      string  `json:"reason,omitempty"`
	Score       string  `json:"score"`
	SpentUSD    float64 `json:"spent_usd"`
}

func (c *FleetListCmd) Run(g *Globals) error {
	list, err := call[*messages.FleetJobList](g, g.ctx, &messages.FleetListRequest{})
	if err != nil {
		return err
	}
	jobs := make([]fleetJobJSON, 0, len(list.GetJobs()))
	for _, j := range list.GetJobs() {
		jobs = append(jobs, fleetJobJSON{ID: j.GetId(), State: j.GetState(), Member: j.GetMember(), Priority: j.GetPriority(),
			SubmittedBy: j.GetSubmittedBy(), User: j.GetUser(), Placements: j.GetPlacements(), Reason: j.GetReason(),
			Score: j.GetScore(), SpentUSD: j.GetSpentUsd(), SubmittedAt: time.Unix(0, j.GetSubmittedUnixNano()).UTC().Format(time.RFC3339)})
	}
	if c.JSON {
		return g.printJSON(struct {
			Schema string         `json:"schema"`
			Jobs   []fleetJobJSON `json:"jobs"`
		}{schema, jobs})
	}
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tMEMBER\tPRIORITY\tSUBMITTED BY\tPLACED\tREASON")
	for _, j := range jobs {
		member := j.Member
		if member == "" {
			member = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", j.ID, j.State, member, j.Priority, j.SubmittedBy, j.Placements, j.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	g.printf("%d fleet jobs queued or running\n", len(jobs))
	return nil
}
