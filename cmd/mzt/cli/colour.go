package cli

import (
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Colour where a terminal is: the text views (status, list, insights, logs)
// use the styles of `mzt top`. The renderer follows the output, so there is
// no colour off a terminal or with NO_COLOR set, and the text is the same
// either way: styles only wrap words that are already there.
type textStyles struct {
	on                           bool
	header, good, warn, bad, dim lipgloss.Style
	voices                       []lipgloss.Style
}

func newTextStyles(w io.Writer) textStyles {
	r := lipgloss.NewRenderer(w)
	st := newTopStyles(r)
	ts := textStyles{on: isTerminalWriter(w) && os.Getenv("NO_COLOR") == "", header: st.header, good: st.good,
		warn: st.warn, bad: st.bad, dim: st.dim}
	for _, c := range []string{"6", "5", "4", "3", "2", "14", "13", "12"} {
		ts.voices = append(ts.voices, r.NewStyle().Foreground(lipgloss.Color(c)))
	}
	return ts
}

// isTerminalWriter reports whether w is this process's terminal stdout.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && f.Fd() == 1 && isTerminal()
}

var statusWord = regexp.MustCompile(`\b(completed|failed|cancelled|skipped|running|waiting|paused|queued|STALLED)\b`)

// paint styles a table: its first line as a header, status words by what
// they mean.
func (t textStyles) paint(table string) string {
	if !t.on {
		return table
	}
	lines := strings.SplitAfter(table, "\n")
	header := true
	for i, l := range lines {
		body := strings.TrimRight(l, "\n")
		switch {
		case body == "":
			header = true // a blank line starts a new table
			continue
		case header && strings.ToUpper(body) == body:
			lines[i] = t.header.Render(body) + l[len(body):]
		default:
			lines[i] = statusWord.ReplaceAllStringFunc(body, t.status) + l[len(body):]
		}
		header = false
	}
	return strings.Join(lines, "")
}

func (t textStyles) status(word string) string {
	switch word {
	case "completed":
		return t.good.Render(word)
	case "failed", "cancelled", "STALLED":
		return t.bad.Render(word)
	case "running", "waiting":
		return t.warn.Render(word)
	default:
		return t.dim.Render(word)
	}
}

// prefix colours a log line's [stage:voice] prefix, one colour per sheet.
func (t textStyles) prefix(sheet int64, p string) string {
	if !t.on || p == "" {
		return p
	}
	return t.voices[int(sheet)%len(t.voices)].Render(strings.TrimSuffix(p, " ")) + " "
}
