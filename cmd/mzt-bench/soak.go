package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mzt-dev/mzt/internal/pidfile"
	"github.com/mzt-dev/mzt/internal/sheetrun"
	"github.com/mzt-dev/mzt/internal/tryjournal"
	"github.com/mzt-dev/mzt/messages"
)

// soak kills the conductor with SIGKILL `cycles` times while `sheets`
// sheets run at a time (each with a grandchild that escaped with setsid;
// sheets*cycles in all, in waves), starting it again each time, then lets
// the job finish and reports what was lost: jobs lost, sheets that ran to
// completion twice, tries run again after a crash (adopted tries must not
// be), processes of a killed conductor's run still alive. All must be 0.
func soak(mztBin string, cycles, sheets int, noCgroups bool) error {
	dir, mztBin, err := workdir(".mztsoak", mztBin)
	if err != nil {
		return err
	}
	if os.Getenv("SOAK_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		defer fmt.Println("kept", dir)
	}
	home := filepath.Join(dir, "h")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	cfg := fmt.Sprintf("max_concurrent_sheets = %d\nkill_grace = \"1s\"\ncgroups = %v\n", sheets, !noCgroups)
	if err := os.WriteFile(filepath.Join(home, "conductor.toml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	ws := filepath.Join(dir, "ws")
	score := filepath.Join(dir, "soak.toml")
	// sheets run at a time, in waves, so that every cycle's kill lands
	// among running tries and tries being started (adopted tries finish
	// during the cycle: one wave would be done after the first kill).
	total := sheets * cycles
	// Each sheet: an escaped grandchild, 2-4 s of work, then one line in
	// done/<sheet>: a second line would be a sheet run to completion twice.
	src := fmt.Sprintf(`id = "soak"
workspace = %q
[defaults]
instrument = "shell"
attempts = 1
[run]
max_parallel = %d
[[stage]]
id = "work"
voices = %d
prompt = '''
mkdir -p done
setsid sleep 600 >/dev/null 2>&1 < /dev/null &
sleep $(( 2 + {{.Voice}} %% 3 ))
echo ok >> done/{{.Sheet}}
'''
`, ws, sheets, total)
	if err := os.WriteFile(score, []byte(src), 0o644); err != nil {
		return err
	}
	mztAt := mztIn(mztBin, home)
	mzt := func(args ...string) ([]byte, error) { return mztAt(args...).CombinedOutput() }
	// Sheet processes from anything else on the machine are not ours to count.
	foreign := map[tokenProc]bool{}
	for _, p := range tokenProcs() {
		foreign[p] = true
	}
	if out, err := mzt("start"); err != nil {
		return fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mzt("stop", "--force")
	if out, err := mzt("run", score); err != nil {
		return fmt.Errorf("run: %v\n%s", err, out)
	}
	left := 0
	t0 := time.Now()
	for c := 1; c <= cycles; c++ {
		// Let sheets get going (some will finish, most will be running).
		waitRunning(mzt, sheets/2, 10*time.Second)
		var procs []tokenProc
		for _, p := range tokenProcs() {
			if !foreign[p] {
				procs = append(procs, p)
			}
		}
		pid := readPID(filepath.Join(home, "conductor.pid"))
		if pid <= 0 {
			return fmt.Errorf("cycle %d: no conductor PID", c)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("cycle %d: kill %d: %w", c, pid, err)
		}
		// A killed leader turns zombie before its other threads are gone;
		// the PID file's lock is free only once the last one is.
		for {
			st, err := pidfile.Inspect(filepath.Join(home, "conductor.pid"))
			if err == nil && !st.Running {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if out, err := mzt("start"); err != nil {
			return fmt.Errorf("cycle %d: start: %v\n%s", c, err, out)
		}
		// Recovery kills what the dead conductor left before it serves,
		// except the tries its supervisor still runs (adopted, with what
		// they started): a process left behind is one of a try that ended.
		// (The supervisor stops what escaped an ended try within its grace.)
		time.Sleep(3 * time.Second)
		n := 0
		for _, p := range procs {
			// A try that ended in the last second may still have its
			// escapees: the supervisor's sweep comes within 100 ms, then a
			// SIGTERM (waves of sheets end at any moment).
			if startTicks(p.pid) == p.ticks && alive(p.pid) && tryEnded(home, p.token, time.Now().Add(-time.Second)) {
				n++
				if os.Getenv("SOAK_DEBUG") != "" {
					cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
					stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
					fmt.Printf("  left: %d %q %s\n", p.pid, cmdline, stat)
				}
			}
		}
		left += n
		fmt.Printf("cycle %2d: killed conductor %d with %d sheet processes alive; %d left after restart\n", c, pid, len(procs), n)
	}
	st, err := waitDone(mzt, 5*time.Minute)
	if err != nil {
		return err
	}
	// Once every try has ended nothing of the run may live on (escapees of
	// an ended try get the supervisor's SIGTERM, then SIGKILL 2 s later).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n := 0
		for _, p := range tokenProcs() {
			if !foreign[p] && alive(p.pid) {
				n++
				if os.Getenv("SOAK_DEBUG") != "" && time.Now().After(deadline) {
					stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
					fmt.Printf("  left at the end: %s %s\n", p.token, stat)
				}
			}
		}
		if n == 0 || time.Now().After(deadline) {
			left += n
			break
		}
	}
	// Each sheet has one attempt and a crash uses none; with live restart a
	// crash of the conductor does not even restart a try: every try beyond
	// the first of a sheet was restarted by a crash.
	tries, _ := filepath.Glob(filepath.Join(home, "logs", "*", "sheet-*.try-*.stdout"))
	restarted := len(tries) - total
	// A try ran to completion when its process exited 0: its supervisor
	// records that in the run's exit journal (the in-conductor wrapper in
	// sheet-N.try-K.exit). (The done/N markers can repeat without a second
	// completion: bash killed by SIGTERM in the middle of a try may still
	// run the builtin that follows before dying.)
	twice, missing, repeated := 0, 0, 0
	exits := exitRecords(home)
	for i := 1; i <= total; i++ {
		completions := 0
		for key, e := range exits {
			if strings.HasPrefix(filepath.Base(key), fmt.Sprintf("sheet-%d.try-", i)) && e.Code == 0 {
				completions++
			}
		}
		switch {
		case completions == 0:
			missing++
		case completions > 1:
			twice++
		}
		data, _ := os.ReadFile(filepath.Join(ws, "done", strconv.Itoa(i)))
		if strings.Count(string(data), "ok") > 1 {
			repeated++
		}
	}
	lost := 0
	if st.Status != messages.JobCompleted || st.SheetsCompleted != total {
		lost = 1
	}
	attemptsUsed := 0
	for _, s := range st.Sheets {
		attemptsUsed += s.Attempts
	}
	fmt.Printf("\nsoak: %d kill -9 cycles, %d sheets, %d at a time, in %s\n", cycles, total, sheets, time.Since(t0).Round(time.Second))
	fmt.Printf("  jobs lost                 %d\n", lost)
	fmt.Printf("  sheets completed twice    %d\n", twice)
	fmt.Printf("  sheets never completed    %d\n", missing)
	fmt.Printf("  last command repeated     %d (by a try interrupted at that moment; not a completion)\n", repeated)
	fmt.Printf("  processes left behind     %d\n", left)
	fmt.Printf("  tries restarted by a crash %d (running tries are adopted, not run again)\n", restarted)
	fmt.Printf("  attempts used             %d (of %d sheets; a crash uses none)\n", attemptsUsed, total)
	if lost+twice+missing+left+restarted > 0 || attemptsUsed != total {
		if os.Getenv("SOAK_DEBUG") != "" {
			out, _ := mzt("status", "soak")
			fmt.Printf("%s\n", out)
			for i := 1; i <= total; i++ {
				data, _ := os.ReadFile(filepath.Join(ws, "done", strconv.Itoa(i)))
				if n := strings.Count(string(data), "ok"); n != 1 {
					fmt.Printf("sheet %d done %d times\n", i, n)
					out, _ := exec.Command("sqlite3", filepath.Join(home, "state.db"),
						fmt.Sprintf("select try, outcome, exit_code, error from attempts where num=%d", i)).CombinedOutput()
					fmt.Printf("%s", out)
					logs, _ := filepath.Glob(filepath.Join(home, "logs", "*", fmt.Sprintf("sheet-%d.*", i)))
					fmt.Println(logs)
				}
			}
			log, _ := os.ReadFile(filepath.Join(home, "conductor.log"))
			for _, line := range strings.Split(string(log), "\n") {
				if strings.Contains(line, "settling") || strings.Contains(line, "ERROR") || strings.Contains(line, "on its own") {
					fmt.Println(line)
				}
			}
		}
		return fmt.Errorf("soak found losses")
	}
	return nil
}

type tokenProc struct {
	pid   int
	ticks uint64
	token string
}

// tryEnded reports whether the try a token names ended before cutoff (its
// exit record, written by its supervisor, exists).
func tryEnded(home, token string, cutoff time.Time) bool {
	parts := strings.Split(token, "/")
	if len(parts) != 3 {
		return true
	}
	name := fmt.Sprintf("sheet-%s.try-%s.exit", parts[1], parts[2])
	if fi, err := os.Stat(filepath.Join(home, "logs", parts[0], name)); err == nil {
		return fi.ModTime().Before(cutoff)
	}
	e, ok := tryjournal.FindExit(filepath.Join(home, "logs", parts[0], tryjournal.Name), name)
	return ok && e.Ended.Before(cutoff)
}

// exitRecords is every try's exit record in home, keyed RUN/sheet-N.try-K.exit:
// the runs' exit journals and the per-try exit files (a file wins).
func exitRecords(home string) map[string]tryjournal.Exit {
	out := map[string]tryjournal.Exit{}
	journals, _ := filepath.Glob(filepath.Join(home, "logs", "*", tryjournal.Name))
	for _, j := range journals {
		for name, e := range tryjournal.ReadExits(j) {
			out[filepath.Join(filepath.Base(filepath.Dir(j)), name)] = e
		}
	}
	files, _ := filepath.Glob(filepath.Join(home, "logs", "*", "sheet-*.try-*.exit"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if code, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			out[filepath.Join(filepath.Base(filepath.Dir(f)), filepath.Base(f))] = tryjournal.Exit{Code: code}
		}
	}
	return out
}

// tokenProcs lists every process carrying a sheet token.
func tokenProcs() []tokenProc {
	dir, _ := os.ReadDir("/proc")
	var out []tokenProc
	for _, d := range dir {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !bytes.Contains(env, []byte("MZT_SHEET_TOKEN=soak.")) {
			continue
		}
		token := ""
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("MZT_SHEET_TOKEN=")); ok {
				token = string(v)
			}
		}
		out = append(out, tokenProc{pid: pid, ticks: startTicks(pid), token: token})
	}
	return out
}

func startTicks(pid int) uint64 {
	t, _ := sheetrun.ProcStartTicks(pid)
	return t
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i > 0 && !bytes.HasPrefix(bytes.TrimSpace(data[i+1:]), []byte("Z"))
}

type soakStatus struct {
	Status          messages.JobState `json:"status"`
	SheetsCompleted int               `json:"sheets_completed"`
	Sheets          []struct {
		Attempts int                 `json:"attempts"`
		Status   messages.SheetState `json:"status"`
	} `json:"sheets"`
}

func jobStatus(mzt func(...string) ([]byte, error)) (soakStatus, error) {
	out, err := mzt("status", "soak", "--json")
	if err != nil {
		return soakStatus{}, fmt.Errorf("status: %v\n%s", err, out)
	}
	var st soakStatus
	return st, json.Unmarshal(out, &st)
}

func waitRunning(mzt func(...string) ([]byte, error), n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st, err := jobStatus(mzt)
		if err == nil {
			running := 0
			for _, s := range st.Sheets {
				if s.Status == messages.SheetRunning {
					running++
				}
			}
			if running >= n || st.Status == messages.JobCompleted {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitDone(mzt func(...string) ([]byte, error), timeout time.Duration) (soakStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := jobStatus(mzt)
		if err == nil && st.Status.Terminal() {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("soak job not finished after %s (status %q, %v)", timeout, st.Status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// soakBurst kills the conductor with SIGKILL `cycles` times during bursts of
// submissions: each cycle submits `jobs` jobs of `sheets` fast sheets, kills
// the conductor while they run (after a delay that varies per cycle) and
// starts it again. Every sheet appends its MZT_SHEET_TOKEN (run/sheet/try)
// to one side-effect file, so what counts is what ran, whatever the logs
// say: a sheet whose line appears twice ran twice, a token that appears
// twice is a try number used twice. Both must be 0.
func soakBurst(mztBin string, cycles, jobs, sheets int, noCgroups bool) error {
	dir, mztBin, err := workdir(".mztburst", mztBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	home := filepath.Join(dir, "h")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	cfg := fmt.Sprintf("max_concurrent_jobs = %d\nmax_concurrent_sheets = 8\nkill_grace = \"1s\"\ncgroups = %v\n", jobs, !noCgroups)
	if err := os.WriteFile(filepath.Join(home, "conductor.toml"), []byte(cfg), 0o600); err != nil {
		return err
	}
	effects := filepath.Join(dir, "effects")
	score := filepath.Join(dir, "burst.toml")
	src := fmt.Sprintf(`workspace = %q
[defaults]
instrument = "shell"
attempts = 1
[run]
max_parallel = 8
[[stage]]
id = "echo"
voices = %d
prompt = 'echo "$MZT_SHEET_TOKEN" >> %s'
`, filepath.Join(dir, "ws"), sheets, effects)
	if err := os.WriteFile(score, []byte(src), 0o644); err != nil {
		return err
	}
	mztAt := mztIn(mztBin, home)
	mzt := func(args ...string) ([]byte, error) { return mztAt(args...).CombinedOutput() }
	if out, err := mzt("start"); err != nil {
		return fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mzt("stop", "--force")
	t0 := time.Now()
	var ids []string
	for c := 1; c <= cycles; c++ {
		for k := 1; k <= jobs; k++ {
			id := fmt.Sprintf("b%d-%d", c, k)
			if out, err := mzt("run", "--id", id, score); err != nil {
				return fmt.Errorf("cycle %d: run %s: %v\n%s", c, id, err, out)
			}
			ids = append(ids, id)
		}
		// Kill at a different moment of the burst each cycle.
		time.Sleep(time.Duration(20+(c*37)%200) * time.Millisecond)
		pid := readPID(filepath.Join(home, "conductor.pid"))
		if pid <= 0 {
			return fmt.Errorf("cycle %d: no conductor PID", c)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("cycle %d: kill %d: %w", c, pid, err)
		}
		for {
			st, err := pidfile.Inspect(filepath.Join(home, "conductor.pid"))
			if err == nil && !st.Running {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if out, err := mzt("start"); err != nil {
			return fmt.Errorf("cycle %d: start: %v\n%s", c, err, out)
		}
		lines, _ := countLines(effects)
		fmt.Printf("cycle %2d: killed conductor %d during a burst of %d jobs; %d sheet runs so far\n", c, pid, jobs, lines)
	}
	// Let every job end, then read what ran.
	deadline := time.Now().Add(10 * time.Minute)
	notDone := 0
	for {
		notDone = 0
		for _, id := range ids {
			out, err := mzt("status", id, "--json")
			var st soakStatus
			if err != nil || json.Unmarshal(out, &st) != nil || !st.Status.Terminal() {
				notDone++
				break
			}
		}
		if notDone == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	failed := 0
	for _, id := range ids {
		out, err := mzt("status", id, "--json")
		var st soakStatus
		if err != nil || json.Unmarshal(out, &st) != nil || st.Status != messages.JobCompleted || st.SheetsCompleted != sheets {
			failed++
		}
	}
	data, err := os.ReadFile(effects)
	if err != nil {
		return fmt.Errorf("read side effects: %w", err)
	}
	bySheet, byToken := map[string]int{}, map[string]int{}
	for _, tok := range strings.Fields(string(data)) {
		byToken[tok]++
		if i := strings.LastIndexByte(tok, '/'); i > 0 {
			bySheet[tok[:i]]++ // run/sheet
		}
	}
	twice, reused := 0, 0
	for _, n := range bySheet {
		if n > 1 {
			twice++
		}
	}
	for _, n := range byToken {
		if n > 1 {
			reused++
		}
	}
	total := len(ids) * sheets
	fmt.Printf("\nsoak -burst: %d kill -9 cycles, %d jobs of %d fast sheets (%d sheets) in %s\n",
		cycles, len(ids), sheets, total, time.Since(t0).Round(time.Second))
	fmt.Printf("  jobs not completed        %d\n", failed)
	fmt.Printf("  sheets that ran           %d\n", len(bySheet))
	fmt.Printf("  sheets run twice          %d\n", twice)
	fmt.Printf("  try numbers used twice    %d\n", reused)
	if failed > 0 || twice > 0 || reused > 0 || len(bySheet) != total {
		return fmt.Errorf("soak -burst found losses or repeats")
	}
	return nil
}

func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	return bytes.Count(data, []byte("\n")), err
}
