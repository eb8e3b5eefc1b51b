// Command mzt-bench measures mzt against floors and peers in one run, on the
// same machine, and prints ratios: absolute times on a shared, noisy machine
// mean little, a ratio to a floor measured a moment earlier means more.
//
//	go run ./cmd/mzt-bench [-mzt PATH] [-n N]
//	go run ./cmd/mzt-bench soak [-cycles 10] [-sheets 50]
//	go run ./cmd/mzt-bench soak -burst [-cycles 40] [-jobs 4] [-sheets 10]
//	go run ./cmd/mzt-bench profiler-cost
//	go run ./cmd/mzt-bench history [-n 20] [-jobs 10000] [-sheets 10000]
//	go run ./cmd/mzt-bench remote [-n 50]   (or api: the same rows)
//	go run ./cmd/mzt-bench queue [-n 1000] [-base OLD/mzt]  (the queue rows vs task-spooler, and idle RSS)
//
// It also serves as the floor client: `mzt-bench floor-client SOCKET` dials
// a Unix socket, writes a byte and reads the reply, the least any CLI
// round trip must do.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "floor-client" {
		if err := floorClient(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "soak" {
		fs := flag.NewFlagSet("soak", flag.ExitOnError)
		mzt := fs.String("mzt", "", "mzt binary (default: build it)")
		cycles := fs.Int("cycles", 10, "kill -9 cycles")
		sheets := fs.Int("sheets", 50, "sheets running in parallel")
		noCgroups := fs.Bool("no-cgroups", false, "run the conductor with cgroups = false")
		burst := fs.Bool("burst", false, "kill during bursts of submitted jobs of fast sheets; count sheets run twice")
		jobs := fs.Int("jobs", 4, "with -burst: jobs submitted per cycle (of -sheets sheets each)")
		fs.Parse(os.Args[2:])
		run := func() error { return soak(*mzt, *cycles, *sheets, *noCgroups) }
		if *burst {
			run = func() error { return soakBurst(*mzt, *cycles, *jobs, *sheets, *noCgroups) }
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "mzt-bench soak:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && (os.Args[1] == "remote" || os.Args[1] == "api") {
		fs := flag.NewFlagSet("remote", flag.ExitOnError)
		mzt := fs.String("mzt", "", "mzt binary (default: build it)")
		n := fs.Int("n", 50, "repetitions of each round trip")
		fs.Parse(os.Args[2:])
		if err := remoteOnly(*mzt, *n); err != nil {
			fmt.Fprintln(os.Stderr, "mzt-bench remote:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "queue" {
		fs := flag.NewFlagSet("queue", flag.ExitOnError)
		mzt := fs.String("mzt", "", "mzt binary (default: build it)")
		n := fs.Int("n", 1000, "one-sheet jobs")
		base := fs.String("base", "", "another mzt binary (an earlier build) to measure interleaved with this one")
		fs.Parse(os.Args[2:])
		if err := queueOnly(*mzt, *base, *n); err != nil {
			fmt.Fprintln(os.Stderr, "mzt-bench queue:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "trivial" {
		fs := flag.NewFlagSet("trivial", flag.ExitOnError)
		mzt := fs.String("mzt", "", "mzt binary (default: build it)")
		sheets := fs.Int("sheets", 1000, "trivial sheets")
		parallel := fs.Int("parallel", 8, "parallelism")
		fs.Parse(os.Args[2:])
		if err := trivialOnly(*mzt, *sheets, *parallel); err != nil {
			fmt.Fprintln(os.Stderr, "mzt-bench trivial:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "history" {
		fs := flag.NewFlagSet("history", flag.ExitOnError)
		mzt := fs.String("mzt", "", "mzt binary (default: build it)")
		n := fs.Int("n", 20, "repetitions of each command")
		jobs := fs.Int("jobs", 10000, "finished jobs in the history")
		sheets := fs.Int("sheets", 10000, "sheets of the big jobs status reads")
		fs.Parse(os.Args[2:])
		if err := historyOnly(*mzt, *n, *jobs, *sheets); err != nil {
			fmt.Fprintln(os.Stderr, "mzt-bench history:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "fleet" {
		fs := flag.NewFlagSet("fleet", flag.ExitOnError)
		mzt := fs.String("mzt", "", "mzt binary (default: build it)")
		etcd := fs.String("etcd", "", "etcd binary (default: $MZT_ETCD, else etcd on PATH)")
		n := fs.Int("n", 100, "jobs for the placement latency")
		jobs := fs.Int("jobs", 30, "jobs for the throughput")
		fs.Parse(os.Args[2:])
		if err := fleetBench(*mzt, *etcd, *n, *jobs); err != nil {
			fmt.Fprintln(os.Stderr, "mzt-bench fleet:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "profiler-cost" {
		if err := profilerCostOnly(); err != nil {
			fmt.Fprintln(os.Stderr, "mzt-bench profiler-cost:", err)
			os.Exit(1)
		}
		return
	}
	mzt := flag.String("mzt", "", "mzt binary (default: build it)")
	n := flag.Int("n", 50, "repetitions of each round-trip measurement")
	sheets := flag.Int("sheets", 1000, "trivial sheets for the throughput measurement")
	noCgroups := flag.Bool("no-cgroups", false, "run the conductor with cgroups = false")
	parallel := flag.Int("parallel", 8, "parallelism for the throughput measurement")
	flag.Parse()
	if err := run(*mzt, *n, *sheets, *parallel, *noCgroups); err != nil {
		fmt.Fprintln(os.Stderr, "mzt-bench:", err)
		os.Exit(1)
	}
}

type row struct {
	what, value, floor, ratio, goal string
}

func run(mztBin string, n, sheets, parallel int, noCgroups bool) error {
	dir, mztBin, err := workdir(".mztbench", mztBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	home := filepath.Join(dir, "h")
	if noCgroups {
		os.MkdirAll(home, 0o700)
		os.WriteFile(filepath.Join(home, "conductor.toml"), []byte("cgroups = false\n"), 0o600)
	}
	mztCmd := mztIn(mztBin, home)
	var rows []row

	// Start to ready.
	startTimes := make([]time.Duration, 0, 10)
	for range 10 {
		t0 := time.Now()
		if out, err := mztCmd("start").CombinedOutput(); err != nil {
			return fmt.Errorf("start: %v\n%s", err, out)
		}
		startTimes = append(startTimes, time.Since(t0))
		if out, err := mztCmd("stop").CombinedOutput(); err != nil {
			return fmt.Errorf("stop: %v\n%s", err, out)
		}
	}
	rows = append(rows, row{"mzt start to ready (median of 10)", ms(median(startTimes)), "", "", "< 150 ms"})

	if out, err := mztCmd("start").CombinedOutput(); err != nil {
		return fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mztCmd("stop", "--force").Run()
	pid := readPID(filepath.Join(home, "conductor.pid"))
	time.Sleep(200 * time.Millisecond) // let the first monitor sample settle
	rows = append(rows, row{"idle conductor RSS", fmt.Sprintf("%.1f MB", rssMB(pid)), "", "", "< 40 MB"})

	// conductor-status --json round trip vs the bare floor client, both as
	// fresh processes, interleaved so that machine noise hits both alike.
	floorSock := filepath.Join(dir, "floor.sock")
	stop, err := floorServer(floorSock)
	if err != nil {
		return err
	}
	defer stop()
	var cli, version, floor []time.Duration
	for range n {
		t0 := time.Now()
		if err := mztCmd("conductor-status", "--json").Run(); err != nil {
			return fmt.Errorf("conductor-status: %w", err)
		}
		cli = append(cli, time.Since(t0))
		// version reads mzt-conductor's version from its build information
		// and asks the running conductor for its own: one round trip.
		t0 = time.Now()
		if err := mztCmd("version").Run(); err != nil {
			return fmt.Errorf("version: %w", err)
		}
		version = append(version, time.Since(t0))
		t0 = time.Now()
		if err := exec.Command(self, "floor-client", floorSock).Run(); err != nil {
			return fmt.Errorf("floor client: %w", err)
		}
		floor = append(floor, time.Since(t0))
	}
	rows = append(rows, row{"conductor-status --json round trip (median)", ms(median(cli)), ms(median(floor)) + " bare Go socket client",
		ratio(median(cli), median(floor)), "<= 3x"},
		row{"mzt version, with mzt-conductor's and the running one's (median)", ms(median(version)), ms(median(floor)) + " bare Go socket client",
			ratio(median(version), median(floor)), "<= 2x"})
	remoteRows, err := remoteStatus(mztBin, dir, n)
	if err != nil {
		return fmt.Errorf("remote status: %w", err)
	}
	rows = append(rows, remoteRows[0])

	sock := filepath.Join(home, "conductor.sock")
	rate, err := gatewayRate(sock, 16, 3*time.Second)
	if err != nil {
		return fmt.Errorf("gateway rate: %w", err)
	}
	rows = append(rows, row{"gateway requests/s over 16 connections (in-process client)", fmt.Sprintf("%.0f/s", rate), "", "", ""})
	errCount, p99 := manyClients(sock, 200, 100)
	rows = append(rows, row{"200 clients x 100 requests at once: errors, p99", fmt.Sprintf("%d, %s", errCount, ms(p99)), "", "", "0 errors"})

	// Trivial sheets through the whole engine vs bare `bash -c true` spawns.
	r, err := trivialRow(mztCmd, dir, sheets, parallel)
	if err != nil {
		return err
	}
	rows = append(rows, r)

	histTime, histText, histRSS, err := historyList(mztBin, dir, 10000)
	if err != nil {
		return err
	}
	rows = append(rows, row{"mzt list --all --json with 10,000 finished jobs (median)", ms(histTime), "", "", "< 100 ms"},
		row{"mzt list --all (text: newest 50 and a count) of the same (median)", ms(histText), "", "", ""},
		row{"conductor RSS with 10,000 finished jobs, after listing", fmt.Sprintf("%.1f MB", histRSS), "", "", "< 100 MB"})

	profOn, profOff, err := profilerCost(mztBin, dir, 50, 10*time.Second)
	if err != nil {
		return err
	}
	rows = append(rows, row{"conductor CPU, 50 sleeping sheets, profiler every 1s", fmt.Sprintf("%.2f%% of a core", profOn),
		fmt.Sprintf("%.2f%% with the profiler off", profOff), "", ""})

	if _, err := exec.LookPath("tsp"); err == nil {
		qts, err := queueVsTsp([]string{mztBin}, dir, 1000)
		if err != nil {
			return err
		}
		rows = append(rows, queueRows(1000, qts[0], "")...)
	} else {
		rows = append(rows, row{"1,000 jobs vs task-spooler", "skipped", "tsp not installed (apt-get install task-spooler)", "", ""})
	}

	fmt.Printf("mzt-bench on %s, %d CPUs, %s\n\n", hostname(), numCPU(), time.Now().Format(time.RFC3339))
	fmt.Printf("%-62s %-14s %-34s %-8s %s\n", "MEASURE", "MZT", "FLOOR", "RATIO", "GOAL")
	for _, r := range rows {
		fmt.Printf("%-62s %-14s %-34s %-8s %s\n", r.what, r.value, r.floor, r.ratio, r.goal)
	}
	return nil
}

// workdir makes a private folder under $HOME (not /tmp: on the machines
// here file creation under /tmp is ~40x slower than elsewhere on the same
// disk, which would measure the machine) and builds mzt and mzt-conductor
// there unless given.
func workdir(prefix, mztBin string) (dir, bin string, err error) {
	base, err := os.UserHomeDir()
	if err != nil {
		return "", "", err
	}
	if dir, err = os.MkdirTemp(base, prefix); err != nil {
		return "", "", err
	}
	if mztBin == "" {
		// mzt start runs the mzt-conductor beside mzt: build both.
		mztBin = filepath.Join(dir, "mzt")
		if out, err := exec.Command("go", "build", "-o", dir+"/", "./cmd/mzt", "./cmd/mzt-conductor").CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return "", "", fmt.Errorf("build mzt and mzt-conductor: %v\n%s", err, out)
		}
	}
	return dir, mztBin, nil
}

func floorServer(path string) (func(), error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1)
				if _, err := c.Read(buf); err == nil {
					c.Write([]byte("ok\n"))
				}
			}()
		}
	}()
	return func() { ln.Close(); wg.Wait() }, nil
}

func floorClient(path string) error {
	c, err := net.Dial("unix", path)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte{1}); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ok\n" {
		return errors.Join(errors.New("floor: bad reply"), err)
	}
	return nil
}

func spawnMany(n, parallel int) error {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := exec.Command("bash", "-c", "true").Run(); err != nil {
				mu.Lock()
				firstErr = errors.Join(firstErr, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b time.Duration) string { return fmt.Sprintf("%.2fx", float64(a)/float64(b)) }

func readPID(path string) int {
	data, _ := os.ReadFile(path)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// procCPU is the CPU time pid has used (0 if it is gone).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil || pid <= 0 {
		return 0
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// childrenCPU is the CPU time of this process's waited-for children.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ownSupervisor is the pid of the (single) supervisor of home (0: none).
func ownSupervisor(home string) int {
	socks, _ := filepath.Glob(filepath.Join(home, "supervisors", "*.sock"))
	if len(socks) != 1 {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(socks[0]), ".sock"))
	return pid
}

func rssMB(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

// trivialRow runs sheets trivial sheets through the whole engine (parallel
// at a time, every transition persisted), then as many bare `bash -c true`
// spawns, and compares the rates.
func trivialRow(mztCmd func(...string) *exec.Cmd, dir string, sheets, parallel int) (row, error) {
	score, err := fanOutScore(dir, "trivial", "true", parallel, sheets)
	if err != nil {
		return row{}, err
	}
	// CPU time, unlike the rates, holds on a machine shared with others.
	home := filepath.Join(dir, "h")
	conductor, supervisor := readPID(filepath.Join(home, "conductor.pid")), ownSupervisor(home)
	c0, s0 := procCPU(conductor), procCPU(supervisor)
	t0 := time.Now()
	if out, err := mztCmd("run", "--wait", score).CombinedOutput(); err != nil {
		return row{}, fmt.Errorf("run trivial: %v\n%s", err, out)
	}
	engine := time.Since(t0)
	perTry := func(d time.Duration) string {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)/float64(sheets))
	}
	cpu := fmt.Sprintf("conductor %s + supervisor %s", perTry(procCPU(conductor)-c0), perTry(procCPU(supervisor)-s0))
	b0 := childrenCPU()
	t0 = time.Now()
	if err := spawnMany(sheets, parallel); err != nil {
		return row{}, err
	}
	bare := time.Since(t0)
	fmt.Fprintf(os.Stderr, "trivial sheets, CPU per try: %s; bash -c true itself: %s\n", cpu, perTry(childrenCPU()-b0))
	engineRate, bareRate := float64(sheets)/engine.Seconds(), float64(sheets)/bare.Seconds()
	return row{fmt.Sprintf("trivial sheets/s (%d sheets, parallel %d, persisted)", sheets, parallel),
		fmt.Sprintf("%.0f/s", engineRate), fmt.Sprintf("%.0f/s bare bash -c true", bareRate),
		fmt.Sprintf("%.2fx", engineRate/bareRate), ">= 0.7x"}, nil
}

// trivialOnly measures the trivial-sheet throughput alone.
func trivialOnly(mztBin string, sheets, parallel int) error {
	dir, mztBin, err := workdir(".mztbench", mztBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	home := filepath.Join(dir, "h")
	mztCmd := mztIn(mztBin, home)
	if out, err := mztCmd("start").CombinedOutput(); err != nil {
		return fmt.Errorf("start: %v\n%s", err, out)
	}
	defer mztCmd("stop", "--force").Run()
	r, err := trivialRow(mztCmd, dir, sheets, parallel)
	if err != nil {
		return err
	}
	fmt.Printf("%-62s %-14s %-34s %-8s %s\n", r.what, r.value, r.floor, r.ratio, r.goal)
	return nil
}
