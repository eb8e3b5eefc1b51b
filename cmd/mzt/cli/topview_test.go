package cli

import (
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
)

// The model of `mzt top` driven without a terminal or a conductor: snapshots
// are hand-made, actions go to a fake that records the requests.

var topNow = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func ago(d time.Duration) int64 { return topNow.Add(-d).UnixNano() }

func topSnapshot() *messages.TopSnapshot {
	return &messages.TopSnapshot{
		Conductor: &messages.ConductorStatus{
			Pid: 4242, Version: "1.2.3", UptimeSeconds: 7500, Status: "ready", AcceptingWork: true,
			RunningJobs: 2, QueuedJobs: 1, RunningSheets: 3, MemoryMb: 512, MemoryLimitMb: 8192,
			ChildProcesses: 12, ProcessLimit: 512, Pressure: "medium", MaxConcurrentSheets: 25,
		},
		Jobs: []*messages.JobInfo{
			{Id: "review", Name: "Parallel review", Status: "running", SheetsTotal: 10, SheetsCompleted: 4,
				SheetsRunning: 2, SheetsFailed: 1, SheetsStalled: 1, StartedAtUnixNano: ago(130 * time.Second),
				HasEta: true, EtaSeconds: 250, EtaLowSeconds: 180, EtaHighSeconds: 360},
			{Id: "build", Status: "running", SheetsTotal: 3, SheetsCompleted: 0, SheetsRunning: 1,
				StartedAtUnixNano: ago(5 * time.Second)},
			{Id: "later", Status: "queued", SheetsTotal: 2},
		},
		Sheets: []*messages.RunningSheet{
			{JobId: "review", Sheet: &messages.SheetInfo{Num: 5, Stage: "draft", Voice: 2, VoiceCount: 3, Status: "running",
				Attempts: 1, Pid: 31337, CpuPercent: 97.6, RssMb: 120, PeakRssMb: 150, Processes: 3,
				StartedAtUnixNano: ago(63 * time.Second)}},
			{JobId: "review", Sheet: &messages.SheetInfo{Num: 6, Stage: "draft", Voice: 3, VoiceCount: 3, Status: "running",
				Attempts: 2, Pid: 31338, RssMb: 8.5, Stalled: true, Notes: []string{"no CPU and no output for 5m"},
				StartedAtUnixNano: ago(400 * time.Second)}},
			{JobId: "build", Sheet: &messages.SheetInfo{Num: 1, Stage: "compile", Status: "running", Attempts: 1,
				Pid: 555, StartedAtUnixNano: ago(5 * time.Second)}},
		},
		Recent: []*messages.Event{
			{TimeUnixNano: ago(10 * time.Second), Kind: "sheet.status", JobId: "review", Sheet: 4, Status: "completed"},
			{TimeUnixNano: ago(2 * time.Second), Kind: "stall", JobId: "review", Sheet: 6, Detail: "no output for 5m"},
		},
	}
}

// fakeConductor answers the model's calls and records the control requests.
type fakeConductor struct {
	mu       sync.Mutex
	snap     *messages.TopSnapshot
	fetchErr error
	requests []*messages.JobControlRequest
	ctlErr   error
}

func (f *fakeConductor) deps() topDeps {
	return topDeps{
		fetch: func() (*messages.TopSnapshot, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.snap, f.fetchErr
		},
		control: func(req *messages.JobControlRequest) (*messages.JobControlResponse, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.requests = append(f.requests, req)
			if f.ctlErr != nil {
				return nil, f.ctlErr
			}
			status := map[messages.JobAction]string{messages.JobAction_JOB_ACTION_PAUSE: "paused",
				messages.JobAction_JOB_ACTION_RESUME: "running", messages.JobAction_JOB_ACTION_CANCEL: "cancelled"}
			return &messages.JobControlResponse{JobId: req.GetJobId(), Status: status[req.GetAction()]}, nil
		},
		now: func() time.Time { return topNow },
	}
}

func newTestTop(t *testing.T, f *fakeConductor) topModel {
	t.Helper()
	m := newTopModel(f.deps(), time.Second, lipgloss.NewRenderer(io.Discard), f.snap)
	return update(t, m, tea.WindowSizeMsg{Width: 160, Height: 50})
}

func update(t *testing.T, m topModel, msg tea.Msg) topModel {
	t.Helper()
	next, _ := m.Update(msg)
	return next.(topModel)
}

func key(s string) tea.KeyMsg {
	switch s {
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// press sends a key and runs the command it returns (an action's call), then
// feeds the command's message back, as the bubbletea runtime would.
func press(t *testing.T, m topModel, k string) (topModel, tea.Cmd) {
	t.Helper()
	next, cmd := m.Update(key(k))
	return next.(topModel), cmd
}

func runCmd(t *testing.T, m topModel, cmd tea.Cmd) topModel {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	msg := cmd()
	if _, ok := msg.(topControlMsg); !ok {
		t.Fatalf("command gave %T, want the answer of an action", msg)
	}
	return update(t, m, msg)
}

func TestTopView(t *testing.T) {
	f := &fakeConductor{snap: topSnapshot()}
	v := newTestTop(t, f).View()
	for _, want := range []string{
		// header panel
		`conductor · PID 4242 · 1\.2\.3 · up 2h 5m · ready`,
		`pressure medium · memory 512/8192 MB \(6%\) · processes 12/512 \(2%\)`,
		`jobs 2 running · 1 queued · sheets 3 running \(max 25\) · spent \$0\.00 today`,
		// job table, the first job selected
		`ID +STATUS +PROGRESS +FAILED +STALLED +ELAPSED +ETA +COST +NAME`,
		`> +review +running +\[####------\] 4/10 +1 +1 +2m 10s +~4m \(3m-6m\) +\? +Parallel review`,
		`\n +build +running +\[----------\] 0/3 +- +- +5s +- +\?\n`,
		`\n +later +queued `,
		// running sheets
		`JOB +SHEET +STAGE +PID +CPU% +RSS +PEAK +PROCS +ELAPSED +FLAGS`,
		`review +5 +draft/2 +31337 +98 +120 MB +150 MB +3 +1m 3s\n`,
		`review +6 +draft/3 +31338 +0 +8\.5 MB +- +- +6m 40s +STALLED · no CPU and no output for 5m`,
		`build +1 +compile +555 +- +- +- +- +5s`,
		// events and keys
		`stall +review +6 +no output for 5m`,
		`p pause · r resume · c cancel · q quit`,
	} {
		if !regexp.MustCompile(want).MatchString(v) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	lines := strings.Split(v, "\n")
	if len(lines) != 50 {
		t.Errorf("view has %d lines, want the terminal's 50", len(lines))
	}
	for _, l := range lines {
		if w := lipgloss.Width(l); w > 160 {
			t.Errorf("line wider than the terminal (%d): %q", w, l)
		}
	}
}

// A small terminal: every section keeps its header, rows are cut with a
// "more" line, and the selected job stays in view.
func TestTopViewSmallTerminal(t *testing.T) {
	snap := topSnapshot()
	for i := range 20 {
		snap.Jobs = append(snap.Jobs, &messages.JobInfo{Id: "extra" + string(rune('a'+i)), Status: "queued"})
	}
	m := newTestTop(t, &fakeConductor{snap: snap})
	m = update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	for range 15 {
		m, _ = press(t, m, "j")
	}
	v := m.View()
	lines := strings.Split(v, "\n")
	if len(lines) != 24 {
		t.Fatalf("view has %d lines, want 24:\n%s", len(lines), v)
	}
	for _, want := range []string{`> +extram +queued`, `… \d+ more`, `RUNNING SHEETS \(3\)`, `q quit`} {
		if !regexp.MustCompile(want).MatchString(v) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	for _, l := range lines {
		if w := lipgloss.Width(l); w > 80 {
			t.Errorf("line wider than the terminal (%d): %q", w, l)
		}
	}
}

func TestTopSelection(t *testing.T) {
	f := &fakeConductor{snap: topSnapshot()}
	m := newTestTop(t, f)
	if m.selected != "review" {
		t.Fatalf("selected %q at start, want the first job", m.selected)
	}
	m, _ = press(t, m, "up") // already at the top
	if m.selected != "review" || m.cursor != 0 {
		t.Fatalf("up at the top: selected %q (row %d)", m.selected, m.cursor)
	}
	for _, k := range []string{"down", "j", "j", "down"} { // past the end stays on the last
		m, _ = press(t, m, k)
	}
	if m.selected != "later" || m.cursor != 2 {
		t.Fatalf("after moving down past the end: selected %q (row %d), want later (2)", m.selected, m.cursor)
	}
	m, _ = press(t, m, "k")
	if m.selected != "build" {
		t.Fatalf("k: selected %q, want build", m.selected)
	}
	if !regexp.MustCompile(`> +build +running`).MatchString(m.View()) {
		t.Errorf("the view does not mark build as selected:\n%s", m.View())
	}

	// The selection follows the job when the rows move under it...
	snap := topSnapshot()
	snap.Jobs = []*messages.JobInfo{snap.Jobs[2], snap.Jobs[0], snap.Jobs[1]}
	m = update(t, m, topSnapshotMsg{snap: snap, at: topNow})
	if m.selected != "build" || m.cursor != 2 {
		t.Fatalf("after a reorder: selected %q (row %d), want build (2)", m.selected, m.cursor)
	}
	// ... and stays on the same row, within bounds, when the job is gone.
	snap = topSnapshot()
	snap.Jobs = snap.Jobs[:1]
	m = update(t, m, topSnapshotMsg{snap: snap, at: topNow})
	if m.selected != "review" || m.cursor != 0 {
		t.Fatalf("after the job ended: selected %q (row %d), want review (0)", m.selected, m.cursor)
	}
	// No jobs: nothing is selected and the keys say so.
	m = update(t, m, topSnapshotMsg{snap: &messages.TopSnapshot{Conductor: snap.Conductor}, at: topNow})
	m, _ = press(t, m, "j")
	m, cmd := press(t, m, "p")
	if m.selected != "" || cmd != nil || m.note != "no job selected" {
		t.Fatalf("no jobs: selected %q, note %q, command %v", m.selected, m.note, cmd != nil)
	}
	if !strings.Contains(m.View(), "no active jobs") {
		t.Errorf("view without jobs:\n%s", m.View())
	}
}

func TestTopPauseResume(t *testing.T) {
	f := &fakeConductor{snap: topSnapshot()}
	m := newTestTop(t, f)
	m, _ = press(t, m, "j") // build
	m, cmd := press(t, m, "p")
	if !strings.Contains(m.View(), "pausing job build") {
		t.Errorf("no word while the pause is on its way:\n%s", m.View())
	}
	m = runCmd(t, m, cmd)
	m, cmd = press(t, m, "r")
	m = runCmd(t, m, cmd)
	want := []*messages.JobControlRequest{
		{JobId: "build", Action: messages.JobAction_JOB_ACTION_PAUSE},
		{JobId: "build", Action: messages.JobAction_JOB_ACTION_RESUME},
	}
	checkRequests(t, f, want)
	if !strings.Contains(m.View(), "job build resumed (status: running)") {
		t.Errorf("the status line does not show the answer:\n%s", m.View())
	}
	// An error of the conductor shows in the status line, in its words.
	f.ctlErr = &client.RemoteError{Code: messages.ErrorCode_ERROR_CODE_INVALID_STATE, Message: "job build is not running or queued"}
	m, cmd = press(t, m, "p")
	m = runCmd(t, m, cmd)
	if !strings.Contains(m.View(), "pause build: job build is not running or queued") || !m.noteErr {
		t.Errorf("the status line does not show the refusal:\n%s", m.View())
	}
	// The status line clears itself after a while.
	m.deps.now = func() time.Time { return topNow.Add(topNoteFor) }
	if strings.Contains(m.View(), "pause build") {
		t.Errorf("the status line outlives topNoteFor:\n%s", m.View())
	}
}

func TestTopCancelAsksFirst(t *testing.T) {
	f := &fakeConductor{snap: topSnapshot()}
	m := newTestTop(t, f)

	// c asks; any key but y keeps the job.
	for _, k := range []string{"n", "esc", "c", "q"} {
		var cmd tea.Cmd
		m, cmd = press(t, m, "c")
		if cmd != nil {
			t.Fatalf("c alone issued a command")
		}
		if !strings.Contains(m.View(), "Cancel job review?") {
			t.Fatalf("c does not ask:\n%s", m.View())
		}
		m, cmd = press(t, m, k)
		if cmd != nil {
			t.Fatalf("%q after c issued a command (q must not quit while asking)", k)
		}
		if strings.Contains(m.View(), "Cancel job review?") || !strings.Contains(m.View(), "job review not cancelled") {
			t.Fatalf("%q after c: the question stays or no word:\n%s", k, m.View())
		}
	}
	checkRequests(t, f, nil)

	// c then y cancels the job that was selected when c was pressed.
	m, _ = press(t, m, "c")
	m, cmd := press(t, m, "y")
	m = runCmd(t, m, cmd)
	checkRequests(t, f, []*messages.JobControlRequest{{JobId: "review", Action: messages.JobAction_JOB_ACTION_CANCEL}})
	if !strings.Contains(m.View(), "job review cancelled (status: cancelled)") {
		t.Errorf("the status line does not show the cancel:\n%s", m.View())
	}
}

func TestTopQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m := newTestTop(t, &fakeConductor{snap: topSnapshot()})
		_, cmd := press(t, m, k)
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
	// ctrl+c quits even while a cancel waits for y/n.
	m := newTestTop(t, &fakeConductor{snap: topSnapshot()})
	m, _ = press(t, m, "c")
	if _, cmd := press(t, m, "ctrl+c"); cmd == nil {
		t.Error("ctrl+c while asking does not quit")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("ctrl+c while asking does not quit")
	}
}

// The conductor going away is a state of the view, not an end: it says so,
// keeps refreshing, and comes back with the same selection.
func TestTopConductorGoesAway(t *testing.T) {
	f := &fakeConductor{snap: topSnapshot()}
	m := newTestTop(t, f)
	m, _ = press(t, m, "j")
	f.fetchErr = client.ErrNotRunning
	m = refresh(t, m)
	v := m.View()
	if !strings.Contains(v, "conductor is not running") || !strings.Contains(v, "retrying every 1s") {
		t.Fatalf("view without a conductor:\n%s", v)
	}
	if strings.Contains(v, "review") {
		t.Errorf("the view still shows jobs of a conductor that is gone:\n%s", v)
	}
	m, cmd := press(t, m, "p")
	if cmd != nil || m.note != "conductor is not running" {
		t.Errorf("p without a conductor: note %q, command %v", m.note, cmd != nil)
	}
	m = refresh(t, m) // still away: still retrying
	f.fetchErr = nil
	m = refresh(t, m)
	if v := m.View(); strings.Contains(v, "not running") || !regexp.MustCompile(`> +build`).MatchString(v) {
		t.Errorf("view after the conductor came back:\n%s", v)
	}
	// Another refresh error keeps the last answer on screen and says why.
	f.fetchErr = errors.New("request timed out")
	m = refresh(t, m)
	if v := m.View(); !strings.Contains(v, "refresh failed: request timed out") || !strings.Contains(v, "review") {
		t.Errorf("view after a failed refresh:\n%s", v)
	}
}

// refresh fires the pending tick and feeds the fetch's answer back.
func refresh(t *testing.T, m topModel) topModel {
	t.Helper()
	next, cmd := m.Update(topTickMsg{seq: m.seq})
	m = next.(topModel)
	if cmd == nil {
		t.Fatal("the current tick does not fetch")
	}
	msg, ok := cmd().(topSnapshotMsg)
	if !ok {
		t.Fatal("the fetch does not answer with a snapshot")
	}
	next, cmd = m.Update(msg)
	if cmd == nil {
		t.Fatal("no next tick after a refresh")
	}
	return next.(topModel)
}

// Ticks of an older chain are dropped, so actions never start a second
// refresh loop.
func TestTopOneRefreshAtATime(t *testing.T) {
	f := &fakeConductor{snap: topSnapshot()}
	m := newTestTop(t, f)
	old := m.seq
	m, cmd := press(t, m, "p")
	next, cmd := m.Update(cmd()) // the action's answer asks for a refresh now
	m = next.(topModel)
	if cmd == nil || !m.fetching {
		t.Fatal("an action's answer does not refresh at once")
	}
	if _, c := m.Update(topTickMsg{seq: old}); c != nil {
		t.Error("a tick while a refresh is in flight fetched again")
	}
	m = update(t, m, cmd())
	if _, c := m.Update(topTickMsg{seq: old}); c != nil {
		t.Error("a stale tick fetched")
	}
	if _, c := m.Update(topTickMsg{seq: m.seq}); c == nil {
		t.Error("the current tick did not fetch")
	}
}

func checkRequests(t *testing.T, f *fakeConductor, want []*messages.JobControlRequest) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != len(want) {
		t.Fatalf("requests %v, want %v", f.requests, want)
	}
	for i := range want {
		if f.requests[i].GetJobId() != want[i].GetJobId() || f.requests[i].GetAction() != want[i].GetAction() {
			t.Errorf("request %d: %v, want %v", i, f.requests[i], want[i])
		}
	}
}

func TestETAText(t *testing.T) {
	for _, c := range []struct {
		j       *messages.JobInfo
		precise bool
		want    string
	}{
		{&messages.JobInfo{Status: "running", HasEta: true, EtaSeconds: 250, EtaLowSeconds: 180, EtaHighSeconds: 360}, true, "~4m10s (3m-6m)"},
		{&messages.JobInfo{Status: "running", HasEta: true, EtaSeconds: 250, EtaLowSeconds: 180, EtaHighSeconds: 360}, false, "~4m (3m-6m)"},
		{&messages.JobInfo{Status: "running", HasEta: true, EtaSeconds: 42, EtaLowSeconds: 40, EtaHighSeconds: 44}, true, "~42s (40s-44s)"},
		{&messages.JobInfo{Status: "queued", HasEta: true, EtaSeconds: 7300}, true, "~2h2m"},
		{&messages.JobInfo{Status: "running", HasEta: true, EtaSeconds: 60, EtaLowSeconds: 60, EtaHighSeconds: 60}, true, "~1m0s"},
		{&messages.JobInfo{Status: "running"}, true, ""},
		{&messages.JobInfo{Status: "completed", HasEta: true, EtaSeconds: 5}, true, ""},
	} {
		if got := etaText(c.j, c.precise); got != c.want {
			t.Errorf("etaText(%v, %v) = %q, want %q", c.j, c.precise, got, c.want)
		}
	}
	if got := etaPhrase(&messages.JobInfo{Status: "running"}); got != "ETA unknown" {
		t.Errorf("etaPhrase without an estimate = %q", got)
	}
	if got := etaPhrase(&messages.JobInfo{Status: "failed"}); got != "" {
		t.Errorf("etaPhrase of a finished job = %q", got)
	}
}

// The model under bubbletea's own runtime (keys from a reader, commands in
// goroutines, under -race): a refresh and an action run while keys arrive,
// and q ends the program with the selection where the keys left it.
func TestTopProgram(t *testing.T) {
	f := &fakeConductor{snap: topSnapshot()}
	m := newTopModel(f.deps(), 10*time.Millisecond, lipgloss.NewRenderer(io.Discard), f.snap)
	in, keys := io.Pipe()
	p := tea.NewProgram(m, tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithoutSignalHandler())
	done := make(chan tea.Model, 1)
	go func() {
		final, err := p.Run()
		if err != nil {
			t.Errorf("program: %v", err)
		}
		done <- final
	}()
	go func() {
		keys.Write([]byte("jp")) // one read: bubbletea makes it one message
		// The pause reaches the fake (refreshes run meanwhile), then q.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			f.mu.Lock()
			n := len(f.requests)
			f.mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		keys.Write([]byte("q"))
	}()
	select {
	case final := <-done:
		tm := final.(topModel)
		if tm.selected != "build" {
			t.Errorf("selected %q at the end, want build", tm.selected)
		}
		checkRequests(t, f, []*messages.JobControlRequest{{JobId: "build", Action: messages.JobAction_JOB_ACTION_PAUSE}})
	case <-time.After(30 * time.Second):
		p.Kill()
		t.Fatal("the program did not end on q")
	}
	keys.Close()
}
