package profiler

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/internal/proctable"
)

// The profiler's own cost per interval. There is no "profiler off"
// benchmark: with profiler.enabled = false the actor never arms its timer, so
// it costs nothing per interval. Instead the round is split into its /proc
// walk and its bookkeeping. Not measured here: the actor's request for the
// running sheets (one message round trip to the job manager) and the
// InsertSamples write.

const benchTries = 50

// defaultInterval is profiler.interval's default, for the cost share.
const defaultInterval = 5 * time.Second

type benchTry struct {
	pid            int
	stdout, stderr string
	st             TryState
}

// startTries starts n `sleep 60`, each in its own process group with its
// output in files, as the conductor runs sheets; b.Cleanup kills them.
func startTries(b *testing.B, n int) []*benchTry {
	b.Helper()
	dir := b.TempDir()
	tries := make([]*benchTry, 0, n)
	for i := range n {
		t := &benchTry{stdout: filepath.Join(dir, strconv.Itoa(i)+".out"), stderr: filepath.Join(dir, strconv.Itoa(i)+".err")}
		out, err := os.Create(t.stdout)
		if err != nil {
			b.Fatal(err)
		}
		errf, err := os.Create(t.stderr)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("sleep", "60")
		cmd.Stdout, cmd.Stderr = out, errf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err = cmd.Start()
		out.Close()
		errf.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		})
		t.pid = cmd.Process.Pid
		tries = append(tries, t)
	}
	return tries
}

// benchRound is what the profiler does per interval for the running sheets: one
// /proc walk, a Measure of each try's tree and output, and Observe.
func benchRound(b *testing.B, tries []*benchTry, started, now time.Time, pol Policy) {
	table, err := proctable.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tries {
		r := Measure(table, t.pid, t.pid, t.stdout, t.stderr)
		if r.Processes != 1 {
			b.Fatalf("try %d: Measure saw %d processes, want its one sleep", t.pid, r.Processes)
		}
		t.st.Observe(r, started, now, pol)
	}
}

// cpuTime is the CPU (user + system) this process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op b.N times and reports, besides ns/op, the share of one
// core it would cost once per default interval ("cpu%_at_5s" = ns/op / 5 s)
// and the CPU time it really used per op (from getrusage, user + system:
// reading /proc is mostly kernel time).
func measure(b *testing.B, op func()) {
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for range b.N {
		op()
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	nsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(nsPerOp/float64(defaultInterval.Nanoseconds())*100, "cpu%_at_5s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkProfilerRound is one profiler round over 50 running sheets. The
// /proc walk covers every process on the machine, so its cost grows with
// what else runs here (reported as procs).
func BenchmarkProfilerRound(b *testing.B) {
	tries := startTries(b, benchTries)
	pol := Policy{StallAfter: 10 * time.Minute, Interval: defaultInterval, ExpectedP90: time.Minute}
	started := time.Now()
	table, err := proctable.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	now := started
	measure(b, func() {
		now = now.Add(defaultInterval)
		benchRound(b, tries, started, now, pol)
	})
	b.ReportMetric(float64(len(table.Procs)), "procs")
}

// BenchmarkProfilerSnapshotOnly is the /proc walk alone (independent of how
// many sheets run), to split the round's cost.
func BenchmarkProfilerSnapshotOnly(b *testing.B) {
	measure(b, func() {
		if _, err := proctable.Snapshot(); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkProfilerObserveOnly is the bookkeeping alone for 50 sheets, on
// readings taken once: what a round costs beyond reading /proc.
func BenchmarkProfilerObserveOnly(b *testing.B) {
	tries := startTries(b, benchTries)
	table, err := proctable.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	readings := make([]Reading, len(tries))
	for i, t := range tries {
		readings[i] = Measure(table, t.pid, t.pid, t.stdout, t.stderr)
	}
	pol := Policy{StallAfter: 10 * time.Minute, Interval: defaultInterval, ExpectedP90: time.Minute}
	started := time.Now()
	now := started
	measure(b, func() {
		now = now.Add(defaultInterval)
		for i, t := range tries {
			t.st.Observe(readings[i], started, now, pol)
		}
	})
}
