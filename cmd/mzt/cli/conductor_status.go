package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/internal/pidfile"
	"github.com/mzt-dev/mzt/messages"
)

// ConductorStatusCmd is `mzt conductor-status`.
type ConductorStatusCmd struct {
	JSON bool `help:"Print one JSON object."`
}

type conductorStatusJSON struct {
	Schema         string   `json:"schema"`
	PID            int64    `json:"pid"`
	Version        string   `json:"version"`
	UptimeSeconds  float64  `json:"uptime_seconds"`
	Clone          string   `json:"clone"`
	Socket         string   `json:"socket"`
	Status         string   `json:"status"`
	AcceptingWork  bool     `json:"accepting_work"`
	RunningJobs    int64    `json:"running_jobs"`
	QueuedJobs     int64    `json:"queued_jobs"`
	RunningSheets  int64    `json:"running_sheets"`
	MemoryMB       float64  `json:"memory_mb"`
	MemoryLimitMB  float64  `json:"memory_limit_mb"`
	ChildProcesses int64    `json:"child_processes"`
	ProcessLimit   int64    `json:"process_limit"`
	Pressure       string   `json:"pressure"`
	PressureNote   string   `json:"pressure_note,omitempty"`
	Isolation      string   `json:"isolation"`
	SpentTodayUSD  float64  `json:"spent_today_usd"`  // what today's tries reported (local day)
	DailyBudgetUSD *float64 `json:"daily_budget_usd"` // [budget] daily_usd; null: none
	// Supervisors hold the running sheets across restarts of the conductor.
	Supervisors []supervisorJSON `json:"supervisors"`
	// SupervisorNote: why sheets run in the conductor's process, when they do.
	SupervisorNote string `json:"supervisor_note,omitempty"`
	// Fleet is set on a fleet member (fleet.go).
	Fleet *fleetHealthJSON `json:"fleet,omitempty"`
}

type supervisorJSON struct {
	PID     int64  `json:"pid"`
	Version string `json:"version"`
	Tries   int64  `json:"tries"`
	Own     bool   `json:"own"`
	Refused string `json:"refused,omitempty"`
}

func (c *ConductorStatusCmd) Run(g *Globals) error {
	st, err := call[*messages.ConductorStatus](g, g.ctx, &messages.ConductorStatusRequest{})
	if err != nil {
		if isNotRunning(err) {
			// The socket may be gone under a live conductor: its PID lock says so.
			if g.Remote == "" {
				if lock, lerr := pidfile.Inspect(g.paths.PIDFile); lerr == nil && lock.Running {
					return g.silentConductor(lock.PID)
				}
			}
			return failf(exitFailed, "", "conductor is not running")
		}
		return err
	}
	if c.JSON {
		var daily *float64
		if st.GetDailyBudgetUsd() > 0 {
			daily = ptr(st.GetDailyBudgetUsd())
		}
		return g.printJSON(conductorStatusJSON{
			SpentTodayUSD: costJSONValue(st.GetSpentTodayUsd()), DailyBudgetUSD: daily,
			Schema: schema, PID: st.Pid, Version: st.Version, UptimeSeconds: st.UptimeSeconds, Clone: st.Clone,
			Socket: st.Socket, Status: st.Status, AcceptingWork: st.AcceptingWork, RunningJobs: st.RunningJobs,
			QueuedJobs: st.QueuedJobs, RunningSheets: st.RunningSheets, MemoryMB: round1(st.MemoryMb),
			MemoryLimitMB: st.MemoryLimitMb, ChildProcesses: st.ChildProcesses, ProcessLimit: st.ProcessLimit,
			Pressure: st.Pressure, PressureNote: st.MonitorNote, Isolation: st.Isolation,
			Supervisors: supervisorsJSON(st.Supervisors), SupervisorNote: st.GetSupervisorNote(),
			Fleet: toFleetHealthJSON(st.GetFleet()),
		})
	}
	var b strings.Builder
	name := "conductor"
	if st.Clone != "" {
		name = "conductor (clone " + st.Clone + ")"
	}
	fmt.Fprintf(&b, "%s · PID %d · up %s · %s\n", name, st.Pid, humanDuration(time.Duration(st.UptimeSeconds*float64(time.Second))), st.Version)
	accepting := "accepting work"
	if !st.AcceptingWork {
		accepting = "not accepting work"
	}
	fmt.Fprintf(&b, "  status     %s · %s\n", st.Status, accepting)
	fmt.Fprintf(&b, "  jobs       %d running · %d queued (max %d) · %d sheets running (max %d)\n",
		st.RunningJobs, st.QueuedJobs, st.MaxConcurrentJobs, st.RunningSheets, st.MaxConcurrentSheets)
	fmt.Fprintf(&b, "  memory     %.0f MB of %.0f MB (%.0f%%)\n", st.MemoryMb, st.MemoryLimitMb, pct(st.MemoryMb, st.MemoryLimitMb))
	fmt.Fprintf(&b, "  processes  %d of %d (%.0f%%)\n", st.ChildProcesses, st.ProcessLimit, pct(float64(st.ChildProcesses), float64(st.ProcessLimit)))
	fmt.Fprintf(&b, "  pressure   %s\n", st.Pressure)
	if st.MonitorNote != "" {
		fmt.Fprintf(&b, "             %s\n", st.MonitorNote)
	}
	fmt.Fprintf(&b, "  isolation  %s\n", st.Isolation)
	fmt.Fprintf(&b, "  spend      %s today%s\n", usd(st.GetSpentTodayUsd(), true), dailyBudgetText(st))
	writeSupervisors(&b, st.Supervisors)
	if n := st.GetSupervisorNote(); n != "" {
		fmt.Fprintf(&b, "             %s\n", n)
	}
	writeFleetHealth(&b, st.GetFleet())
	fmt.Fprintf(&b, "  socket     %s\n  log        %s\n", st.Socket, st.LogPath)
	g.printf("%s", b.String())
	return nil
}

func pct(v, limit float64) float64 {
	if limit <= 0 {
		return 0
	}
	return 100 * v / limit
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// humanDuration prints 3d 4h, 2h 5m, 4m 10s or 12s.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, (d%time.Hour)/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", d/time.Minute, (d%time.Minute)/time.Second)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}

func supervisorsJSON(in []*messages.SupervisorInfo) []supervisorJSON {
	out := make([]supervisorJSON, 0, len(in))
	for _, s := range in {
		out = append(out, supervisorJSON{PID: s.GetPid(), Version: s.GetVersion(), Tries: s.GetTries(), Own: s.GetOwn(),
			Refused: s.GetRefused()})
	}
	return out
}

// writeSupervisors lists the supervisors holding running sheets.
func writeSupervisors(b *strings.Builder, sups []*messages.SupervisorInfo) {
	if len(sups) == 0 {
		fmt.Fprintf(b, "  supervisor none (running sheets stop with the conductor)\n")
		return
	}
	for i, s := range sups {
		label := "  supervisor "
		if i > 0 {
			label = "             "
		}
		switch {
		case s.GetRefused() != "":
			fmt.Fprintf(b, "%scannot be adopted: %s\n", label, s.GetRefused())
		default:
			whose := "left by an earlier conductor"
			if s.GetOwn() {
				whose = "this conductor's"
			}
			fmt.Fprintf(b, "%sPID %d · mzt %s · %d running sheet(s) · %s\n", label, s.GetPid(), s.GetVersion(), s.GetTries(), whose)
		}
	}
}
