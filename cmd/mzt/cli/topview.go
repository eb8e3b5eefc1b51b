package cli

import (
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
)

// The model of `mzt top` (bubbletea's Init/Update/View). It is pure: the
// conductor's answers arrive as messages, and what it asks of the conductor
// leaves as commands that call the functions in topDeps, so a test drives it
// with hand-made snapshots and a fake control function. The drawing is in
// topview_render.go.

// topDeps is how the model reaches the conductor (top.go passes functions
// that go through Globals.call, so --clone and other transports apply).
type topDeps struct {
	fetch   func() (*messages.TopSnapshot, error)
	control func(*messages.JobControlRequest) (*messages.JobControlResponse, error)
	now     func() time.Time
}

// topSnapshotMsg is the answer to one refresh.
type topSnapshotMsg struct {
	snap *messages.TopSnapshot
	err  error
	at   time.Time
}

// topTickMsg asks for the next refresh. Only the tick of the current seq
// counts, so one refresh is in flight at a time however actions interleave.
type topTickMsg struct{ seq int }

// topControlMsg is the answer to pause, resume or cancel.
type topControlMsg struct {
	req  *messages.JobControlRequest
	resp *messages.JobControlResponse
	err  error
}

type topModel struct {
	deps     topDeps
	interval time.Duration
	st       topStyles

	snap    *messages.TopSnapshot // the latest answer; nil while the conductor is away
	updated time.Time             // when snap arrived
	down    bool                  // the conductor is not running (the view says so and retries)
	refresh error                 // the last refresh failed for another reason (snap is kept)

	seq      int
	fetching bool

	cursor   int
	selected string // the selected job's id: the selection follows the job, not the row
	confirm  string // a job whose cancel waits for y/n

	note    string // the status line: the result of the last action
	noteErr bool
	noteAt  time.Time // a note goes away after topNoteFor

	width, height int
}

func newTopModel(deps topDeps, interval time.Duration, r *lipgloss.Renderer, first *messages.TopSnapshot) topModel {
	if deps.now == nil {
		deps.now = time.Now
	}
	m := topModel{deps: deps, interval: interval, st: newTopStyles(r)}
	if first != nil {
		m = m.withSnapshot(topSnapshotMsg{snap: first, at: deps.now()})
	}
	return m
}

func (m topModel) Init() tea.Cmd {
	if m.snap == nil && !m.down {
		return m.fetchCmd()
	}
	return m.tick()
}

func (m topModel) tick() tea.Cmd {
	seq := m.seq
	return tea.Tick(m.interval, func(time.Time) tea.Msg { return topTickMsg{seq: seq} })
}

func (m topModel) fetchCmd() tea.Cmd {
	fetch, now := m.deps.fetch, m.deps.now
	return func() tea.Msg {
		snap, err := fetch()
		return topSnapshotMsg{snap: snap, err: err, at: now()}
	}
}

func (m topModel) controlCmd(id string, action messages.JobAction) tea.Cmd {
	control := m.deps.control
	req := &messages.JobControlRequest{JobId: id, Action: action}
	return func() tea.Msg {
		resp, err := control(req)
		return topControlMsg{req: req, resp: resp, err: err}
	}
}

func (m topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case topTickMsg:
		if msg.seq != m.seq || m.fetching {
			return m, nil // a tick of an older chain
		}
		m.fetching = true
		return m, m.fetchCmd()
	case topSnapshotMsg:
		m = m.withSnapshot(msg)
		m.fetching = false
		m.seq++
		return m, m.tick()
	case topControlMsg:
		m.say(controlNote(msg))
		if !m.fetching { // show the effect now rather than at the next tick
			m.fetching = true
			return m, m.fetchCmd()
		}
	case tea.KeyMsg:
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 {
			// Keys typed faster than they are read arrive as one message
			// ("jp"): each is a key of its own.
			var cmds []tea.Cmd
			for _, r := range msg.Runes {
				var cmd tea.Cmd
				var next tea.Model
				next, cmd = m.key(string(r))
				m = next.(topModel)
				cmds = append(cmds, cmd)
			}
			return m, tea.Sequence(cmds...)
		}
		return m.key(msg.String())
	}
	return m, nil
}

// withSnapshot takes in a refresh's answer and keeps the selection on the
// same job when it is still there.
func (m topModel) withSnapshot(msg topSnapshotMsg) topModel {
	switch {
	case errors.Is(msg.err, client.ErrNotRunning):
		m.down, m.snap, m.refresh = true, nil, nil
		return m
	case msg.err != nil:
		m.refresh = msg.err
		return m
	}
	if m.down && m.noteErr { // that error was about the conductor being away
		m.note, m.noteErr = "", false
	}
	m.snap, m.updated, m.down, m.refresh = msg.snap, msg.at, false, nil
	jobs := m.snap.GetJobs()
	for i, j := range jobs {
		if j.GetId() == m.selected {
			m.cursor = i
			return m
		}
	}
	m.cursor = max(0, min(m.cursor, len(jobs)-1))
	m.selected = ""
	if len(jobs) > 0 {
		m.selected = jobs[m.cursor].GetId()
	}
	return m
}

func (m topModel) key(k string) (tea.Model, tea.Cmd) {
	if k == "ctrl+c" {
		return m, tea.Quit
	}
	if m.confirm != "" {
		// Cancelling by accident is costly: only y goes on, any other key
		// keeps the job.
		id := m.confirm
		m.confirm = ""
		if k == "y" || k == "Y" {
			m.say("cancelling job "+id+"…", false)
			return m, m.controlCmd(id, messages.JobAction_JOB_ACTION_CANCEL)
		}
		m.say("job "+id+" not cancelled", false)
		return m, nil
	}
	switch k {
	case "q":
		return m, tea.Quit
	case "up", "k":
		m.move(-1)
	case "down", "j":
		m.move(1)
	case "p", "r", "c":
		if m.down {
			m.say("conductor is not running", true)
			return m, nil
		}
		if m.selected == "" {
			m.say("no job selected", true)
			return m, nil
		}
		switch k {
		case "p":
			m.say("pausing job "+m.selected+"…", false)
			return m, m.controlCmd(m.selected, messages.JobAction_JOB_ACTION_PAUSE)
		case "r":
			m.say("resuming job "+m.selected+"…", false)
			return m, m.controlCmd(m.selected, messages.JobAction_JOB_ACTION_RESUME)
		default:
			m.confirm = m.selected
		}
	}
	return m, nil
}

// topNoteFor is how long the status line shows an action's result: long
// enough to read, short enough not to outlive what it says.
const topNoteFor = 10 * time.Second

func (m *topModel) say(note string, isErr bool) {
	m.note, m.noteErr, m.noteAt = note, isErr, m.deps.now()
}

func (m *topModel) move(d int) {
	jobs := m.jobs()
	if len(jobs) == 0 {
		return
	}
	m.cursor = max(0, min(m.cursor+d, len(jobs)-1))
	m.selected = jobs[m.cursor].GetId()
}

// jobs are the rows of the job table: none while the conductor is away.
func (m topModel) jobs() []*messages.JobInfo {
	if m.down {
		return nil
	}
	return m.snap.GetJobs()
}

var topVerbs = map[messages.JobAction][2]string{
	messages.JobAction_JOB_ACTION_PAUSE:  {"pause", "paused"},
	messages.JobAction_JOB_ACTION_RESUME: {"resume", "resumed"},
	messages.JobAction_JOB_ACTION_CANCEL: {"cancel", "cancelled"},
}

// controlNote is the status line for an action's answer, in the words of
// `mzt pause|resume|cancel`.
func controlNote(msg topControlMsg) (string, bool) {
	id, verbs := msg.req.GetJobId(), topVerbs[msg.req.GetAction()]
	var re *client.RemoteError
	switch {
	case msg.err == nil && msg.req.GetAction() == messages.JobAction_JOB_ACTION_CANCEL && !finished(msg.resp.GetStatus()):
		// The answer comes once the cancel has begun; the job's sheets
		// are still being stopped.
		return fmt.Sprintf("job %s is being cancelled (status: %s)", id, msg.resp.GetStatus()), false
	case msg.err == nil:
		return fmt.Sprintf("job %s %s (status: %s)", id, verbs[1], msg.resp.GetStatus()), false
	case errors.Is(msg.err, client.ErrJobNotFound):
		return fmt.Sprintf("%s: job %s not found", verbs[0], id), true
	case errors.Is(msg.err, client.ErrNotRunning):
		return verbs[0] + ": conductor is not running", true
	case errors.As(msg.err, &re):
		return fmt.Sprintf("%s %s: %s", verbs[0], id, re.Message), true
	default:
		return fmt.Sprintf("%s %s: %v", verbs[0], id, msg.err), true
	}
}
