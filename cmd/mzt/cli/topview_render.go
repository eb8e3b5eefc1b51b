package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/mzt-dev/mzt/messages"
)

// The drawing of `mzt top`: a header panel (the conductor), the job table,
// the running sheets, the latest events, a status line and the keys. Every
// line is cut to the terminal's width and the sections share its height.

type topStyles struct {
	panel, title, header, selected, dim, key lipgloss.Style
	good, warn, bad, alarm                   lipgloss.Style
}

// newTopStyles binds the styles to r, whose colour profile follows the
// output (no colour at all off a terminal, which is what tests see).
func newTopStyles(r *lipgloss.Renderer) topStyles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	return topStyles{
		panel:    r.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(lipgloss.Color("8")).Padding(0, 1),
		title:    r.NewStyle().Bold(true),
		header:   r.NewStyle().Bold(true).Underline(true),
		selected: r.NewStyle().Reverse(true),
		dim:      r.NewStyle().Faint(true),
		key:      r.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		good:     r.NewStyle().Foreground(lipgloss.Color("2")),
		warn:     r.NewStyle().Foreground(lipgloss.Color("3")),
		bad:      r.NewStyle().Foreground(lipgloss.Color("1")),
		alarm:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("1")),
	}
}

func (m topModel) View() string {
	width := m.width
	if width <= 0 {
		width = 120
	}
	now := m.deps.now()
	lines := m.panel(width, now)
	status := m.statusLines(now)
	foot := m.footer()
	if !m.down {
		// What is left of the height goes to the tables: the job table gets
		// up to a third, the running sheets the rest, events what remains.
		jobs, sheets, events := m.jobRows(now), m.sheetRows(now), m.eventRows()
		avail := 1 << 30
		if m.height > 0 {
			// 3 blank lines, 2 titles, 2 column headers, the keys
			avail = m.height - len(lines) - len(status) - 8
		}
		nJobs := min(len(jobs)-1, max(3, avail/3), max(avail, 1))
		nSheets := min(len(sheets)-1, max(avail-nJobs, 1))
		nEvents := min(len(events)-1, 8, avail-nJobs-nSheets-3)

		lines = append(lines, "", m.st.title.Render(fmt.Sprintf("JOBS (%d)", len(m.jobs()))))
		lines = append(lines, window(jobs, nJobs, m.cursor)...)
		lines = append(lines, "", m.st.title.Render(fmt.Sprintf("RUNNING SHEETS (%d)", len(m.snap.GetSheets()))))
		lines = append(lines, window(sheets, nSheets, 0)...)
		if nEvents > 0 {
			lines = append(lines, "", m.st.title.Render("RECENT EVENTS"))
			lines = append(lines, events[0])
			lines = append(lines, events[len(events)-nEvents:]...)
		}
	}
	lines = append(lines, "")
	if m.height > 0 { // keys at the bottom of the screen
		for len(lines)+len(status)+1 < m.height {
			lines = append(lines, "")
		}
	}
	lines = append(append(lines, status...), foot)
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "…")
	}
	return strings.Join(lines, "\n")
}

// window keeps a table's column header and n of its rows, scrolled so that
// row cursor shows; the last line says how many rows are hidden.
func window(rows []string, n, cursor int) []string {
	head, body := rows[0], rows[1:]
	if n >= len(body) {
		return rows
	}
	n = max(n-1, 1) // room for the "more" line
	start := max(0, min(cursor-n+1, len(body)-n))
	out := append([]string{head}, body[start:start+n]...)
	return append(out, fmt.Sprintf("  … %d more", len(body)-n))
}

func (m topModel) panel(width int, now time.Time) []string {
	var b strings.Builder
	st := m.snap.GetConductor()
	switch {
	case m.down:
		b.WriteString(m.st.alarm.Render(" conductor is not running "))
		fmt.Fprintf(&b, " · retrying every %s", m.interval)
		if !m.updated.IsZero() {
			fmt.Fprintf(&b, " · last answer %s", m.updated.Format("15:04:05"))
		}
		b.WriteString("\nTry: mzt start")
	default:
		name := "conductor"
		if st.GetClone() != "" {
			name += " (clone " + st.GetClone() + ")"
		}
		fmt.Fprintf(&b, "%s · PID %d · %s · up %s · %s", name, st.GetPid(), st.GetVersion(),
			humanDuration(time.Duration(st.GetUptimeSeconds()*float64(time.Second))), st.GetStatus())
		if !st.GetAcceptingWork() {
			b.WriteString(" · " + m.st.warn.Render("not accepting work"))
		}
		b.WriteString(m.st.dim.Render(" · updated " + m.updated.Format("15:04:05")))
		fmt.Fprintf(&b, "\npressure %s · memory %.0f/%.0f MB (%.0f%%) · processes %d/%d (%.0f%%)",
			m.pressure(st.GetPressure()), st.GetMemoryMb(), st.GetMemoryLimitMb(), pct(st.GetMemoryMb(), st.GetMemoryLimitMb()),
			st.GetChildProcesses(), st.GetProcessLimit(), pct(float64(st.GetChildProcesses()), float64(st.GetProcessLimit())))
		fmt.Fprintf(&b, "\njobs %d running · %d queued · sheets %d running (max %d)",
			st.GetRunningJobs(), st.GetQueuedJobs(), st.GetRunningSheets(), st.GetMaxConcurrentSheets())
		fmt.Fprintf(&b, " · spent %s today%s", usd(st.GetSpentTodayUsd(), true), dailyBudgetText(st))
		if st.GetMonitorNote() != "" {
			b.WriteString("\n" + m.st.warn.Render(st.GetMonitorNote()))
		}
	}
	return strings.Split(m.st.panel.Width(width-2).Render(b.String()), "\n")
}

func (m topModel) pressure(p string) string {
	switch p {
	case "none", "low":
		return m.st.good.Render(p)
	case "medium":
		return m.st.warn.Render(p)
	case "high":
		return m.st.bad.Render(p)
	case "critical":
		return m.st.alarm.Render(" " + p + " ")
	}
	return p
}

func (m topModel) statusStyle(s string) lipgloss.Style {
	switch s {
	case string(messages.JobRunning), string(messages.JobCompleted):
		return m.st.good
	case string(messages.JobPaused), string(messages.SheetWaiting), string(messages.JobQueued):
		return m.st.warn
	case string(messages.JobFailed), string(messages.JobCancelled):
		return m.st.bad
	}
	return lipgloss.Style{}
}

// jobRows are the job table: the column header, then one line per job
// (or "no active jobs"); the selected job is marked and highlighted.
func (m topModel) jobRows(now time.Time) []string {
	cells := [][]string{{" ", "ID", "STATUS", "PROGRESS", "FAILED", "STALLED", "ELAPSED", "ETA", "COST", "NAME"}}
	jobs := m.jobs()
	for i, j := range jobs {
		mark := " "
		if i == m.cursor {
			mark = ">"
		}
		eta := etaText(j, false)
		if eta == "" {
			eta = "-"
		}
		name := j.GetName()
		if name == j.GetId() {
			name = ""
		}
		cells = append(cells, []string{mark, j.GetId(), j.GetStatus(),
			fmt.Sprintf("%s %d/%d", bar(j.GetSheetsCompleted(), j.GetSheetsTotal(), 10), j.GetSheetsCompleted(), j.GetSheetsTotal()),
			count(j.GetSheetsFailed()), count(j.GetSheetsStalled()), humanDuration(since(j.GetStartedAtUnixNano(), j.GetFinishedAtUnixNano(), now)),
			eta, usd(j.GetCostUsd(), j.GetHasCost()), name})
	}
	rows := table(cells, func(r, c int, s string) string {
		j := jobs[r-1]
		switch {
		case r-1 == m.cursor:
			return s // the whole line is highlighted below
		case c == 2:
			return m.statusStyle(j.GetStatus()).Render(s)
		case c == 4 && j.GetSheetsFailed() > 0, c == 5 && j.GetSheetsStalled() > 0:
			return m.st.bad.Render(s)
		}
		return s
	})
	rows[0] = m.st.header.Render(rows[0])
	if len(jobs) == 0 {
		return append(rows, m.st.dim.Render("  no active jobs"))
	}
	rows[m.cursor+1] = m.st.selected.Render(rows[m.cursor+1])
	return rows
}

// sheetRows are the running sheets with their live profile; figures the
// profiler has not measured yet show as "-".
func (m topModel) sheetRows(now time.Time) []string {
	cells := [][]string{{"JOB", "SHEET", "STAGE", "PID", "CPU%", "RSS", "PEAK", "PROCS", "ELAPSED", "FLAGS"}}
	sheets := m.snap.GetSheets()
	for _, rs := range sheets {
		s := rs.GetSheet()
		stage := s.GetStage()
		if s.GetVoiceCount() > 1 {
			stage += fmt.Sprintf("/%d", s.GetVoice())
		}
		cpu, procs := "-", "-"
		if s.GetRssMb() > 0 { // sampled: 0% CPU is a figure then, not a gap
			cpu = fmt.Sprintf("%.0f", s.GetCpuPercent())
		}
		if s.GetProcesses() > 0 {
			procs = fmt.Sprint(s.GetProcesses())
		}
		pid := "-"
		if s.GetPid() > 0 {
			pid = fmt.Sprint(s.GetPid())
		}
		cells = append(cells, []string{rs.GetJobId(), fmt.Sprint(s.GetNum()), stage, pid, cpu,
			megabytes(s.GetRssMb()), megabytes(s.GetPeakRssMb()), procs,
			humanDuration(since(s.GetStartedAtUnixNano(), 0, now)), sheetFlags(s)})
	}
	rows := table(cells, func(r, c int, str string) string {
		s := sheets[r-1].GetSheet()
		switch {
		case c == 9 && s.GetStalled():
			return m.st.bad.Render(str)
		case c == 9:
			return m.st.warn.Render(str)
		}
		return str
	})
	rows[0] = m.st.header.Render(rows[0])
	if len(sheets) == 0 {
		return append(rows, m.st.dim.Render("  no running sheets"))
	}
	return rows
}

// sheetFlags is STALLED and the profiler's notes, newest last.
func sheetFlags(s *messages.SheetInfo) string {
	var flags []string
	if s.GetStalled() {
		flags = append(flags, "STALLED")
	}
	for _, n := range s.GetNotes() {
		flags = append(flags, oneLine(n, 80))
	}
	return strings.Join(flags, " · ")
}

func (m topModel) eventRows() []string {
	cells := [][]string{{"TIME", "EVENT", "JOB", "SHEET", "STATUS", "DETAIL"}}
	for _, e := range m.snap.GetRecent() {
		sheet := ""
		if e.GetSheet() > 0 {
			sheet = fmt.Sprint(e.GetSheet())
		}
		cells = append(cells, []string{time.Unix(0, e.GetTimeUnixNano()).Format("15:04:05"), e.GetKind(), e.GetJobId(),
			sheet, e.GetStatus(), oneLine(e.GetDetail(), 100)})
	}
	rows := table(cells, nil)
	rows[0] = m.st.header.Render(rows[0])
	return rows
}

func (m topModel) statusLines(now time.Time) []string {
	var out []string
	if m.refresh != nil && !m.down {
		out = append(out, m.st.bad.Render(fmt.Sprintf("refresh failed: %v (showing the answer of %s)",
			m.refresh, m.updated.Format("15:04:05"))))
	}
	if m.note != "" && now.Sub(m.noteAt) < topNoteFor {
		style := m.st.good
		if m.noteErr {
			style = m.st.bad
		}
		out = append(out, style.Render(m.note))
	}
	return out
}

func (m topModel) footer() string {
	if m.confirm != "" {
		return m.st.alarm.Render(" Cancel job "+m.confirm+"? ") +
			" Its running sheets are stopped. " + m.st.key.Render("y") + " cancel it · any other key keeps it"
	}
	k := m.st.key.Render
	return strings.Join([]string{k("up/down") + " or " + k("k/j") + " select", k("p") + " pause", k("r") + " resume",
		k("c") + " cancel", k("q") + " quit"}, " · ")
}

// table pads cells into columns two spaces apart; style (if any) colours a
// body cell after padding, so colours do not disturb the widths.
func table(rows [][]string, style func(r, c int, s string) string) []string {
	var widths []int
	for _, row := range rows {
		for c, cell := range row {
			if c >= len(widths) {
				widths = append(widths, 0)
			}
			widths[c] = max(widths[c], lipgloss.Width(cell))
		}
	}
	out := make([]string, len(rows))
	for r, row := range rows {
		var b strings.Builder
		for c, cell := range row {
			if c > 0 {
				b.WriteString("  ")
			}
			if c < len(row)-1 {
				cell += strings.Repeat(" ", widths[c]-lipgloss.Width(cell))
			}
			if style != nil && r > 0 {
				cell = style(r, c, cell)
			}
			b.WriteString(cell)
		}
		out[r] = strings.TrimRight(b.String(), " ")
	}
	return out
}

func count(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// since is how long something that started at start (unix ns) has run, up to
// end or now.
func since(start, end int64, now time.Time) time.Duration {
	if start == 0 {
		return 0
	}
	if end == 0 {
		end = now.UnixNano()
	}
	return max(time.Duration(end-start), 0)
}
