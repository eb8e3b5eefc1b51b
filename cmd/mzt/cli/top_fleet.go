package cli

import (
	"bytes"
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// fleetTop is `mzt top --fleet`: every member's active jobs in one table,
// redrawn every interval on a terminal, printed once otherwise.
func (c *TopCmd) fleetTop(g *Globals) error {
	for {
		ctx, cancel := context.WithTimeout(g.ctx, topFetchTimeout)
		top, err := call[*messages.FleetTop](g, ctx, &messages.FleetTopRequest{})
		cancel()
		if err != nil {
			return err
		}
		var b bytes.Buffer
		writeFleetTop(&b, top, time.Now())
		if !isTerminal() {
			_, err := g.env.Stdout.Write(b.Bytes())
			return err
		}
		fmt.Fprint(g.env.Stdout, "\x1b[H\x1b[2J")
		g.env.Stdout.Write(b.Bytes())
		select {
		case <-g.ctx.Done():
			return nil
		case <-time.After(c.Interval):
		}
	}
}

func writeFleetTop(b *bytes.Buffer, top *messages.FleetTop, now time.Time) {
	fmt.Fprintf(b, "fleet · %d members · %s\n\n", len(top.GetMembers()), now.Format("15:04:05"))
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tJOB\tSTATUS\tSHEETS\tSCORE")
	jobs := 0
	for _, m := range top.GetMembers() {
		if m.GetError() != "" {
			fmt.Fprintf(tw, "%s\t-\tunreachable\t-\t%s\n", m.GetName(), m.GetError())
			continue
		}
		if len(m.GetJobs()) == 0 {
			fmt.Fprintf(tw, "%s\t-\tidle\t-\tpressure %s\n", m.GetName(), m.GetPressure())
		}
		for _, j := range m.GetJobs() {
			jobs++
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", m.GetName(), j.GetId(), j.GetStatus(), j.GetSheetsCompleted(),
				j.GetSheetsTotal(), j.GetName())
		}
	}
	tw.Flush()
	fmt.Fprintf(b, "\n%d active jobs\n", jobs)
}
