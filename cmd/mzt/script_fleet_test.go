package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["etcd3"] = cmdEtcd3
	scriptCmds["killmember"] = cmdKillMember
	scriptCmds["waitfleet"] = cmdWaitFleet
	scriptCmds["waitlines"] = cmdWaitLines
	scriptCmds["runsonce"] = cmdRunsOnce
	scriptCmds["waitmemberjob"] = cmdWaitMemberJob
	scriptCmds["waitfleetjobs"] = cmdWaitFleetJobs
	scriptCmds["waitetcd"] = cmdWaitEtcd
	scriptCmds["waitfleetlist"] = cmdWaitFleetList
	scriptCmds["waitspend"] = cmdWaitSpend
	scriptCmds["waitfleetjob"] = cmdWaitFleetJob
	scriptCmds["killconductor"] = cmdKillConductor
	scriptCmds["waittrace"] = cmdWaitTrace
}

// haveEtcd is the script condition [etcd]: MZT_ETCD is set (a broken one
// then fails the script: CI sets it, and there a missing etcd must not pass
// as a skip) or etcd is on PATH.
func haveEtcd() bool {
	if os.Getenv("MZT_ETCD") != "" {
		return true
	}
	_, err := exec.LookPath("etcd")
	return err == nil
}

// etcdBinary is etcd from MZT_ETCD, else from PATH.
func etcdBinary(ts *testscript.TestScript) string {
	p := os.Getenv("MZT_ETCD")
	if p == "" {
		p = "etcd"
	}
	out, err := exec.Command(p, "--version").CombinedOutput()
	if err != nil {
		ts.Fatalf("etcd (%s) does not run: %v\n%s", p, err, out)
	}
	return p
}

// etcdCluster is a script's 3-node etcd cluster on loopback.
type etcdCluster struct {
	mu    sync.Mutex
	procs []*exec.Cmd
	urls  []string
	bin   string
	args  [][]string // each node's arguments, for a restart
	logs  []string
}

var (
	clustersMu sync.Mutex
	clusters   = map[*testscript.TestScript]*etcdCluster{}
)

// etcd3 start [CERTDIR] | kill N | restart N | stop: a 3-node etcd cluster on free
// loopback ports with its data under $WORK/etcd, stopped when the script
// ends. With CERTDIR (as `mzt certs init` makes it: ca.pem, host.pem,
// host.key) clients speak TLS and must show a certificate of that CA.
// start sets ETCD_ENDPOINTS (a TOML array's items) and ETCD1..ETCD3.
func cmdEtcd3(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: etcd3 start [CERTDIR] | kill N | restart N | stop")
	}
	clustersMu.Lock()
	c := clusters[ts]
	clustersMu.Unlock()
	switch args[0] {
	case "start":
		bin := etcdBinary(ts)
		certDir := ""
		if len(args) > 1 {
			certDir = ts.MkAbs(args[1])
		}
		c = startEtcd3(ts, bin, certDir)
		clustersMu.Lock()
		clusters[ts] = c
		clustersMu.Unlock()
		ts.Defer(func() {
			c.stop()
			clustersMu.Lock()
			delete(clusters, ts)
			clustersMu.Unlock()
		})
	case "kill", "restart":
		if c == nil || len(args) != 2 {
			ts.Fatalf("usage: etcd3 kill|restart N (after etcd3 start)")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 || n > len(c.procs) {
			ts.Fatalf("etcd3 %s %s: want 1..%d", args[0], args[1], len(c.procs))
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		p := c.procs[n-1]
		if args[0] == "kill" {
			ts.Check(p.Process.Kill())
			p.Wait()
			return
		}
		if p.ProcessState == nil {
			ts.Fatalf("etcd3 restart %d: it still runs", n)
		}
		c.procs[n-1] = c.spawn(ts, n-1)
	case "stop":
		if c != nil {
			c.stop()
		}
	default:
		ts.Fatalf("etcd3: unknown action %q", args[0])
	}
}

func startEtcd3(ts *testscript.TestScript, bin, certDir string) *etcdCluster {
	var lns []net.Listener
	port := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		lns = append(lns, ln)
		return ln.Addr().(*net.TCPAddr).Port
	}
	scheme := "http"
	if certDir != "" {
		scheme = "https"
	}
	type node struct{ name, client, peer string }
	var nodes []node
	var initial []string
	for i := 1; i <= 3; i++ {
		n := node{name: fmt.Sprintf("n%d", i), client: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port()),
			peer: fmt.Sprintf("http://127.0.0.1:%d", port())}
		nodes = append(nodes, n)
		initial = append(initial, n.name+"="+n.peer)
	}
	for _, ln := range lns {
		ln.Close()
	}
	c := &etcdCluster{bin: bin}
	for i, n := range nodes {
		dir := filepath.Join(ts.Getenv("WORK"), "etcd", n.name)
		ts.Check(os.MkdirAll(dir, 0o700))
		args := []string{"--name", n.name, "--data-dir", dir, "--listen-client-urls", n.client,
			"--advertise-client-urls", n.client, "--listen-peer-urls", n.peer, "--initial-advertise-peer-urls", n.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "mzt-" + filepath.Base(ts.Getenv("WORK")),
			"--heartbeat-interval", "100", "--election-timeout", "1000"}
		if certDir != "" {
			args = append(args, "--cert-file", filepath.Join(certDir, "host.pem"), "--key-file", filepath.Join(certDir, "host.key"),
				"--trusted-ca-file", filepath.Join(certDir, "ca.pem"), "--client-cert-auth")
		}
		c.args = append(c.args, args)
		c.logs = append(c.logs, filepath.Join(ts.Getenv("WORK"), "etcd", n.name+".log"))
		c.procs = append(c.procs, c.spawn(ts, i))
		c.urls = append(c.urls, n.client)
		ts.Setenv(fmt.Sprintf("ETCD%d", i+1), n.client)
	}
	quoted := make([]string, len(c.urls))
	for i, u := range c.urls {
		quoted[i] = strconv.Quote(u)
	}
	ts.Setenv("ETCD_ENDPOINTS", strings.Join(quoted, ", "))
	hc := &http.Client{Timeout: 2 * time.Second}
	if certDir != "" {
		hc.Transport = &http.Transport{TLSClientConfig: etcdTestTLS(ts, certDir)}
	}
	for _, u := range c.urls {
		var last string
		if !waitUntil(30*time.Second, func() bool {
			res, err := hc.Get(u + "/health")
			if err != nil {
				last = err.Error()
				return false
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			last = string(body)
			return strings.Contains(last, `"health":"true"`)
		}) {
			c.stop()
			ts.Fatalf("etcd at %s not healthy within 30s: %s (logs under $WORK/etcd)", u, last)
		}
	}
	return c
}

// etcdTestTLS is the client side for the health check: the CA and the
// client certificate `mzt certs init` made.
func etcdTestTLS(ts *testscript.TestScript, dir string) *tls.Config {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
	ts.Check(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ts.ReadFile(filepath.Join(dir, "ca.pem"))))
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}
}

// spawn starts node i (again: its data dir says it is a member already).
func (c *etcdCluster) spawn(ts *testscript.TestScript, i int) *exec.Cmd {
	cmd := exec.Command(c.bin, c.args[i]...)
	logf, err := os.OpenFile(c.logs[i], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	ts.Check(err)
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	ts.Check(cmd.Start())
	return cmd
}

func (c *etcdCluster) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.ProcessState == nil {
			p.Process.Kill()
			p.Wait()
		}
	}
}

// killmember HOME: kill -9 a member's conductor and everything below it
// (its supervisor and their sheets): the member's host is gone.
func cmdKillMember(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: killmember HOME")
	}
	pid := readPID(filepath.Join(ts.MkAbs(args[0]), "conductor.pid"))
	if pid <= 0 {
		ts.Fatalf("no conductor runs in %s", args[0])
	}
	killTree(pid)
	if !waitUntil(10*time.Second, func() bool { return !alive(pid) }) {
		ts.Fatalf("conductor %d survived SIGKILL", pid)
	}
}

// waitfleet N [TIMEOUT]: wait until `mzt fleet status --json` (of
// $MARIANNE_HOME's conductor) lists N members.
func cmdWaitFleet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: waitfleet N [TIMEOUT]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	type status struct {
		Members []struct{ Name string } `json:"members"`
	}
	if last, ok := pollMztJSON(ts, timeout, []string{"fleet", "status", "--json"}, func(st status) bool {
		return len(st.Members) == want
	}); !ok {
		ts.Fatalf("fleet has not %d members after %s: %s", want, timeout, last)
	}
}

// waitfleetjobs N [TIMEOUT]: wait until `mzt fleet list --json` shows N
// queued or running jobs.
func cmdWaitFleetJobs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: waitfleetjobs N [TIMEOUT]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	type list struct {
		Jobs []struct{ ID string } `json:"jobs"`
	}
	if last, ok := pollMztJSON(ts, timeout, []string{"fleet", "list", "--json"}, func(l list) bool {
		return len(l.Jobs) == want
	}); !ok {
		ts.Fatalf("fleet list has not %d jobs after %s: %s", want, timeout, last)
	}
}

// waitlines FILE N [TIMEOUT]: wait until FILE has at least N lines.
func cmdWaitLines(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitlines FILE N [TIMEOUT]")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	timeout := argTimeout(ts, args, 2, 60*time.Second)
	n := 0
	if !waitUntil(timeout, func() bool {
		data, _ := os.ReadFile(ts.MkAbs(args[0]))
		n = strings.Count(string(data), "\n")
		return n >= want
	}) {
		ts.Fatalf("%s has %d lines after %s, want %d", args[0], n, timeout, want)
	}
}

// runsonce FILE N MEMBER...: FILE holds one line "JOB MEMBER" per finished
// sheet: N jobs, each exactly once, and each MEMBER ran at least one.
func cmdRunsOnce(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: runsonce FILE N [MEMBER...]")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	jobs, members := map[string]int{}, map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(ts.ReadFile(args[0])), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			ts.Fatalf("bad line %q in %s", line, args[0])
		}
		jobs[f[0]]++
		members[f[1]]++
	}
	for j, n := range jobs {
		if n != 1 {
			ts.Fatalf("job %s ran %d times", j, n)
		}
	}
	if len(jobs) != want {
		ts.Fatalf("%d jobs ran, want %d", len(jobs), want)
	}
	for _, m := range args[2:] {
		if members[m] == 0 {
			ts.Fatalf("member %s ran no job (runs per member: %v)", m, members)
		}
	}
	ts.Logf("runs per member: %v", members)
}

// waitmemberjob MEMBER VAR [TIMEOUT]: wait until `mzt fleet list --json`
// shows a job running on MEMBER and set $VAR to its id.
func cmdWaitMemberJob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitmemberjob MEMBER VAR [TIMEOUT]")
	}
	timeout := argTimeout(ts, args, 2, 30*time.Second)
	var id, last string
	if !waitUntil(timeout, func() bool {
		out, err := mztCmd(ts, "fleet", "list", "--json").Output()
		if err != nil {
			last = err.Error()
			return false
		}
		last = string(out)
		var l struct {
			Jobs []struct{ ID, State, Member string } `json:"jobs"`
		}
		json.Unmarshal(out, &l)
		for _, j := range l.Jobs {
			if j.State == "running" && j.Member == args[0] {
				id = j.ID
				return true
			}
		}
		return false
	}) {
		ts.Fatalf("no job running on %s after %s: %s", args[0], timeout, last)
	}
	ts.Setenv(args[1], id)
}

// waitetcd reachable|unreachable [TIMEOUT]: wait until `mzt conductor-status
// --json` says the conductor reaches etcd, or does not.
func cmdWaitEtcd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || (args[0] != "reachable" && args[0] != "unreachable") {
		ts.Fatalf("usage: waitetcd reachable|unreachable [TIMEOUT]")
	}
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	type status struct {
		Fleet *struct {
			EtcdReachable bool `json:"etcd_reachable"`
		} `json:"fleet"`
	}
	if last, ok := pollMztJSON(ts, timeout, []string{"conductor-status", "--json"}, func(st status) bool {
		return st.Fleet != nil && st.Fleet.EtcdReachable == (args[0] == "reachable")
	}); !ok {
		ts.Fatalf("etcd not %s after %s: %s", args[0], timeout, last)
	}
}

// waitfleetlist REGEXP [TIMEOUT]: wait until `mzt fleet list` prints a
// line matching REGEXP.
func cmdWaitFleetList(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: waitfleetlist REGEXP [TIMEOUT]")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	ts.Check(err)
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	var last string
	if !waitUntil(timeout, func() bool {
		out, _ := mztCmd(ts, "fleet", "list").CombinedOutput()
		last = string(out)
		return re.MatchString(last)
	}) {
		ts.Fatalf("no line of fleet list matches %s after %s:\n%s", args[0], timeout, last)
	}
}

// waitspend USD [TIMEOUT]: wait until `mzt conductor-status --json` says
// spent_today_usd is at least USD.
func cmdWaitSpend(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: waitspend USD [TIMEOUT]")
	}
	want, err := strconv.ParseFloat(args[0], 64)
	ts.Check(err)
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	type status struct {
		Spent float64 `json:"spent_today_usd"`
	}
	if last, ok := pollMztJSON(ts, timeout, []string{"conductor-status", "--json"}, func(st status) bool {
		return st.Spent >= want-1e-9
	}); !ok {
		ts.Fatalf("spent_today_usd not %v after %s: %s", want, timeout, last)
	}
}

// waitfleetjob JOB FIELD REGEXP [TIMEOUT]: wait until JOB's FIELD in `mzt
// fleet list --json` (printed as Go prints it) matches REGEXP.
func cmdWaitFleetJob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: waitfleetjob JOB FIELD REGEXP [TIMEOUT]")
	}
	re, err := regexp.Compile(args[2])
	ts.Check(err)
	timeout := argTimeout(ts, args, 3, 30*time.Second)
	var last string
	if !waitUntil(timeout, func() bool {
		out, err := mztCmd(ts, "fleet", "list", "--json").Output()
		if err != nil {
			last = err.Error()
			return false
		}
		var l struct {
			Jobs []map[string]any `json:"jobs"`
		}
		json.Unmarshal(out, &l)
		for _, j := range l.Jobs {
			if j["id"] == args[0] {
				last = fmt.Sprint(j[args[1]])
				return re.MatchString(last)
			}
		}
		last = "not listed"
		return false
	}) {
		ts.Fatalf("fleet job %s: %s = %q after %s (want match for %s)", args[0], args[1], last, timeout, args[2])
	}
}

// killconductor HOME: SIGKILL the conductor of HOME alone, not its
// supervisors or sheets, and check that its supervisors outlived it.
func cmdKillConductor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: killconductor HOME")
	}
	home := ts.MkAbs(args[0])
	pid := readPID(filepath.Join(home, "conductor.pid"))
	if pid <= 0 {
		ts.Fatalf("no conductor runs in %s", args[0])
	}
	var sups []int
	socks, _ := filepath.Glob(filepath.Join(home, "supervisors", "*.sock"))
	for _, s := range socks {
		if n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(s), ".sock")); err == nil && alive(n) {
			sups = append(sups, n)
		}
	}
	if len(sups) == 0 {
		ts.Fatalf("the conductor of %s has no live supervisor", args[0])
	}
	ts.Check(syscall.Kill(pid, syscall.SIGKILL))
	if !waitUntil(10*time.Second, func() bool { return !alive(pid) }) {
		ts.Fatalf("conductor %d survived SIGKILL", pid)
	}
	for _, s := range sups {
		if !alive(s) {
			ts.Fatalf("supervisor %d died with its conductor", s)
		}
	}
	ts.Logf("killed the conductor %d of %s; its supervisors %v live on", pid, args[0], sups)
}

// waittrace FILE WORD VAR [TIMEOUT]: wait until FILE has a line whose first
// field is WORD, and set VAR to that line's second field.
func cmdWaitTrace(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: waittrace FILE WORD VAR [TIMEOUT]")
	}
	timeout := argTimeout(ts, args, 3, 60*time.Second)
	var got string
	if !waitUntil(timeout, func() bool {
		data, _ := os.ReadFile(ts.MkAbs(args[0]))
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == args[1] {
				got = f[1]
				return true
			}
		}
		return false
	}) {
		ts.Fatalf("no %q line in %s after %s", args[1], args[0], timeout)
	}
	ts.Setenv(args[2], got)
}

// pollMztJSON runs `mzt ARGS... ` until its JSON, decoded into a fresh T,
// satisfies ok, or the timeout passes; it returns what was last printed
// (or why mzt failed) for the failure message.
func pollMztJSON[T any](ts *testscript.TestScript, timeout time.Duration, args []string, ok func(T) bool) (string, bool) {
	var last string
	done := waitUntil(timeout, func() bool {
		out, err := mztCmd(ts, args...).Output()
		if err != nil {
			last = err.Error()
			return false
		}
		last = string(out)
		var v T
		json.Unmarshal(out, &v)
		return ok(v)
	})
	return last, done
}
