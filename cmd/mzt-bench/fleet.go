package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fleetBench measures a fleet on a 3-node etcd cluster on loopback:
// placement latency (a `mzt run --fleet` call to its sheet's start, one
// job at a time) and throughput of jobs of one 1 s sheet with 1 member and
// with 3 (2 job slots each).
func fleetBench(mztBin, etcdBin string, n, jobs int) error {
	if etcdBin == "" {
		etcdBin = os.Getenv("MZT_ETCD")
	}
	if etcdBin == "" {
		etcdBin = "etcd"
	}
	dir, bin, err := workdir("mzt-bench-fleet", mztBin)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	endpoints, stop, err := startEtcd(etcdBin, filepath.Join(dir, "etcd"))
	if err != nil {
		return err
	}
	defer stop()
	rows := []row{}
	for _, members := range []int{3, 1} {
		prefix := filepath.Join(dir, fmt.Sprintf("fleet%d", members))
		homes, err := startMembers(bin, prefix, endpoints, members)
		if err != nil {
			return err
		}
		if members == 3 {
			for _, fleet := range []bool{true, false} {
				lat, err := placementLatency(bin, homes[0], prefix, n, fleet)
				if err != nil {
					stopMembers(bin, homes)
					return err
				}
				slices.Sort(lat)
				what := fmt.Sprintf("fleet placement: `mzt run --fleet` to sheet start (%d jobs one by one, 3 members)", n)
				if !fleet {
					what = fmt.Sprintf("floor: `mzt run` (local) to sheet start on the same member (%d jobs one by one)", n)
				}
				rows = append(rows, row{what: what,
					value: fmt.Sprintf("median %s, p99 %s", ms(lat[len(lat)/2]), ms(lat[min(len(lat)-1, len(lat)*99/100)]))})
			}
		}
		took, err := fleetThroughput(bin, homes[0], prefix, jobs)
		stopMembers(bin, homes)
		if err != nil {
			return err
		}
		rows = append(rows, row{what: fmt.Sprintf("fleet throughput: %d jobs of one `sleep 1` sheet, %d member(s) x 2 job slots", jobs, members),
			value: fmt.Sprintf("%.1f s, %.2f jobs/s", took.Seconds(), float64(jobs)/took.Seconds())})
	}
	fmt.Println("| measure | mzt |")
	fmt.Println("|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s |\n", r.what, r.value)
	}
	return nil
}

func startEtcd(bin, dir string) (endpoints []string, stop func(), err error) {
	ports := make([]int, 6)
	var lns []net.Listener
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		ln.Close()
	}
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("n%d=http://127.0.0.1:%d", i, ports[2*i+1]))
	}
	var procs []*exec.Cmd
	stop = func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}
	for i := range 3 {
		client, peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]), fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		cmd := exec.Command(bin, "--name", fmt.Sprintf("n%d", i), "--data-dir", filepath.Join(dir, strconv.Itoa(i)),
			"--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
			"--initial-advertise-peer-urls", peer, "--initial-cluster", strings.Join(initial, ","))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			stop()
			return nil, nil, fmt.Errorf("start etcd: %w", err)
		}
		procs = append(procs, cmd)
		endpoints = append(endpoints, client)
	}
	return endpoints, stop, nil
}

func startMembers(bin, prefix string, endpoints []string, n int) ([]string, error) {
	var homes []string
	quoted := make([]string, len(endpoints))
	for i, e := range endpoints {
		quoted[i] = strconv.Quote(e)
	}
	for i := range n {
		home := filepath.Join(prefix, fmt.Sprintf("m%d", i+1))
		if err := os.MkdirAll(home, 0o700); err != nil {
			return homes, err
		}
		conf := fmt.Sprintf("max_concurrent_jobs = 2\n[fleet]\nname = \"%s-m%d\"\netcd = [%s]\n", filepath.Base(prefix), i+1,
			strings.Join(quoted, ", "))
		if err := os.WriteFile(filepath.Join(home, "conductor.toml"), []byte(conf), 0o600); err != nil {
			return homes, err
		}
		if out, err := mztIn(bin, home)("start").CombinedOutput(); err != nil {
			return homes, fmt.Errorf("start member %d: %v\n%s", i+1, err, out)
		}
		homes = append(homes, home)
	}
	// Every member registered (the first status may come before etcd answers).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := mztIn(bin, homes[0])("fleet", "status", "--json").Output()
		if strings.Count(string(out), `"address"`) == n {
			return homes, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return homes, fmt.Errorf("the fleet did not show %d members within 30 s", n)
}

func stopMembers(bin string, homes []string) {
	for _, h := range homes {
		mztIn(bin, h)("stop", "--force").Run()
	}
}

// placementLatency submits jobs one at a time and times each from the
// submit call to its sheet's first line.
func placementLatency(bin, home, dir string, n int, fleet bool) ([]time.Duration, error) {
	marks := filepath.Join(dir, "marks")
	if err := os.MkdirAll(marks, 0o700); err != nil {
		return nil, err
	}
	score := filepath.Join(dir, "lat.toml")
	src := fmt.Sprintf("workspace = %q\n[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"s\"\nprompt = 'date +%%s%%N > %s/{{.JobID}}'\n",
		filepath.Join(dir, "ws"), marks)
	if err := os.WriteFile(score, []byte(src), 0o600); err != nil {
		return nil, err
	}
	var out []time.Duration
	for i := range n {
		id := fmt.Sprintf("lat%v%d", fleet, i)
		args := []string{"run", "--id", id, score}
		if fleet {
			args = append(args, "--fleet")
		}
		t0 := time.Now()
		if b, err := mztIn(bin, home)(args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("submit %s: %v\n%s", id, err, b)
		}
		var started time.Time
		deadline := time.Now().Add(30 * time.Second)
		for started.IsZero() {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("job %s did not start within 30 s", id)
			}
			if b, err := os.ReadFile(filepath.Join(marks, id)); err == nil && len(b) > 1 {
				if ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
					started = time.Unix(0, ns)
				}
			}
			time.Sleep(time.Millisecond)
		}
		out = append(out, started.Sub(t0))
	}
	return out, nil
}

// fleetThroughput submits jobs of one 1 s sheet from home and times until
// the last has ended (its sheet's line written).
func fleetThroughput(bin, home, dir string, jobs int) (time.Duration, error) {
	done := filepath.Join(dir, "done.txt")
	score := filepath.Join(dir, "tp.toml")
	src := fmt.Sprintf("workspace = %q\n[defaults]\ninstrument = \"shell\"\n[[stage]]\nid = \"s\"\nprompt = 'sleep 1; echo {{.JobID}} >> %s'\n",
		filepath.Join(dir, "ws"), done)
	if err := os.WriteFile(score, []byte(src), 0o600); err != nil {
		return 0, err
	}
	t0 := time.Now()
	for i := range jobs {
		if b, err := mztIn(bin, home)("run", "--fleet", "--id", fmt.Sprintf("%s-tp%d", filepath.Base(dir), i), score).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("submit: %v\n%s", err, b)
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(done)
		if strings.Count(string(b), "\n") >= jobs {
			return time.Since(t0), nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%d jobs not done within 10 minutes", jobs)
}
