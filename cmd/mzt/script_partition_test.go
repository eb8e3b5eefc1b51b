package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// A network partition between one fleet member and etcd, while the others
// reach it: the member dials etcd through forwarders the script can cut.
// A cut is a black hole, as a dead link is: connections stay open and
// nothing crosses them (no reset, no error), so requests time out.
func init() {
	scriptCmds["etcdlink"] = cmdEtcdLink
	scriptCmds["partition"] = cmdPartition
	scriptCmds["waitsafety"] = cmdWaitSafety
	scriptCmds["memberns"] = cmdMemberNS
}

var (
	linksMu sync.Mutex
	links   = map[*testscript.TestScript]map[string][]*forwarder{}
	// nsLinks are the root ends of members' namespace links, by name.
	nsLinks = map[*testscript.TestScript]map[string]string{}
)

// etcdlink NAME [IP]: a forwarder to each node of the script's etcd3
// cluster, for one member, listening on IP (default 127.0.0.1); sets
// NAME_ENDPOINTS (a TOML array's items) to them.
func cmdEtcdLink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: etcdlink NAME [IP] (after etcd3 start)")
	}
	ip := "127.0.0.1"
	if len(args) == 2 {
		ip = args[1]
	}
	clustersMu.Lock()
	c := clusters[ts]
	clustersMu.Unlock()
	if c == nil {
		ts.Fatalf("etcdlink: no etcd3 cluster runs")
	}
	var fws []*forwarder
	var quoted []string
	for _, u := range c.urls {
		target, err := url.Parse(u)
		ts.Check(err)
		f, err := newForwarder(ip, target.Host)
		ts.Check(err)
		ts.Defer(f.close)
		fws = append(fws, f)
		quoted = append(quoted, strconv.Quote(target.Scheme+"://"+f.addr()))
	}
	linksMu.Lock()
	if links[ts] == nil {
		links[ts] = map[string][]*forwarder{}
		ts.Defer(func() {
			linksMu.Lock()
			delete(links, ts)
			linksMu.Unlock()
		})
	}
	links[ts][args[0]] = fws
	linksMu.Unlock()
	ts.Setenv(args[0]+"_ENDPOINTS", strings.Join(quoted, ", "))
}

// partition NAME cut|heal: cut the member NAME off etcd, or join it again.
// A member in its own namespace (memberns) has its link set down: the
// kernel drops what crosses it. Otherwise its forwarders become a black
// hole (the connections the cut held are closed on heal, new ones pass).
func cmdPartition(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "cut" && args[1] != "heal") {
		ts.Fatalf("usage: partition NAME cut|heal")
	}
	linksMu.Lock()
	fws, dev := links[ts][args[0]], nsLinks[ts][args[0]]
	linksMu.Unlock()
	switch {
	case dev != "":
		state := map[string]string{"cut": "down", "heal": "up"}[args[1]]
		if out, err := exec.Command("ip", "link", "set", "dev", dev, state).CombinedOutput(); err != nil {
			ts.Fatalf("ip link set %s %s: %v\n%s", dev, state, err, out)
		}
	case fws != nil:
		for _, f := range fws {
			f.setCut(args[1] == "cut")
		}
	default:
		ts.Fatalf("partition: no etcdlink or memberns %s", args[0])
	}
	ts.Logf("etcd link %s: %s", args[0], args[1])
}

// memberns NAME: a network namespace for member NAME, joined to this one
// by a veth pair (its only way out). Sets NAME_NS (run the member with `ip
// netns exec $NAME_NS mzt start`) and NAME_HOSTIP, this side's address
// (etcdlink NAME $NAME_HOSTIP makes etcd reachable there). `partition NAME
// cut` sets the link down. Deleted when the script ends.
func cmdMemberNS(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: memberns NAME")
	}
	// Names and a /30 of this test process's own: other test processes may
	// make theirs on this host at the same time.
	n, pid := netnsSeq.Add(1), os.Getpid()
	ns := fmt.Sprintf("mzt%d-%dm", pid%100000, n)
	host, inner := fmt.Sprintf("mzr%d-%d", pid%100000, n), fmt.Sprintf("mzn%d-%d", pid%100000, n)
	base := 4 * (int(n) % 63)
	hostIP, innerIP := fmt.Sprintf("10.214.%d.%d", pid%250, base+1), fmt.Sprintf("10.214.%d.%d", pid%250, base+2)
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			ts.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ts.Defer(func() { exec.Command("ip", "netns", "del", ns).Run() }) // its veth pair goes with it
	run("netns", "add", ns)
	run("link", "add", host, "type", "veth", "peer", "name", inner)
	run("link", "set", inner, "netns", ns)
	run("addr", "add", hostIP+"/30", "dev", host)
	run("link", "set", host, "up")
	run("-n", ns, "addr", "add", innerIP+"/30", "dev", inner)
	run("-n", ns, "link", "set", inner, "up")
	run("-n", ns, "link", "set", "lo", "up")
	linksMu.Lock()
	if nsLinks[ts] == nil {
		nsLinks[ts] = map[string]string{}
		ts.Defer(func() {
			linksMu.Lock()
			delete(nsLinks, ts)
			linksMu.Unlock()
		})
	}
	nsLinks[ts][args[0]] = host
	linksMu.Unlock()
	ts.Setenv(args[0]+"_NS", ns)
	ts.Setenv(args[0]+"_HOSTIP", hostIP)
}

// forwarder passes TCP connections to target until it is cut.
type forwarder struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	pairs map[*linkPair]bool
	wg    sync.WaitGroup
}

// linkPair is one client connection and, unless it came during a cut, its
// connection to the target.
type linkPair struct {
	client, up net.Conn
	stalled    bool // caught by a cut: nothing crosses it until it is closed
}

func newForwarder(ip, target string) (*forwarder, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	f := &forwarder{ln: ln, target: target, pairs: map[*linkPair]bool{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		p := &linkPair{client: c}
		f.mu.Lock()
		f.pairs[p] = true
		cut := f.cut
		f.mu.Unlock()
		if cut {
			f.stall(p)
			continue
		}
		up, err := net.Dial("tcp", f.target)
		if err != nil {
			f.drop(p)
			continue
		}
		f.mu.Lock()
		p.up = up
		cut = f.cut
		f.mu.Unlock()
		if cut {
			f.stall(p)
			continue
		}
		f.wg.Add(2)
		go f.pipe(p, c, up)
		go f.pipe(p, up, c)
	}
}

// pipe copies src to dst until either ends; a stalled pair's client side
// is left open (the black hole), its data read and dropped.
func (f *forwarder) pipe(p *linkPair, src, dst net.Conn) {
	defer f.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		f.mu.Lock()
		stalled := p.stalled
		f.mu.Unlock()
		if n > 0 && !stalled {
			if _, werr := dst.Write(buf[:n]); werr != nil && !stalled {
				f.drop(p)
				return
			}
		}
		if err != nil {
			f.mu.Lock()
			stalled = p.stalled
			f.mu.Unlock()
			if !stalled {
				f.drop(p)
			}
			return
		}
	}
}

// stall catches a pair in the cut: its upstream is closed (etcd sees the
// member go), the client's writes go nowhere and nothing comes back.
func (f *forwarder) stall(p *linkPair) {
	f.mu.Lock()
	p.stalled = true
	up := p.up
	f.mu.Unlock()
	if up != nil {
		up.Close()
	}
}

func (f *forwarder) drop(p *linkPair) {
	f.mu.Lock()
	delete(f.pairs, p)
	f.mu.Unlock()
	p.client.Close()
	if p.up != nil {
		p.up.Close()
	}
}

func (f *forwarder) setCut(cut bool) {
	f.mu.Lock()
	f.cut = cut
	pairs := make([]*linkPair, 0, len(f.pairs))
	for p := range f.pairs {
		pairs = append(pairs, p)
	}
	f.mu.Unlock()
	for _, p := range pairs {
		if cut {
			f.stall(p)
		} else {
			f.drop(p) // healed: the client dials again, through the link
		}
	}
}

func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	pairs := make([]*linkPair, 0, len(f.pairs))
	for p := range f.pairs {
		pairs = append(pairs, p)
	}
	f.mu.Unlock()
	for _, p := range pairs {
		f.drop(p)
	}
	f.wg.Wait()
}

// waitsafety REGEXP [TIMEOUT]: wait until the fleet safety line of `mzt
// conductor-status --json` (why the member runs or stopped its fleet jobs
// while etcd does not renew its lease) matches REGEXP.
func cmdWaitSafety(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: waitsafety REGEXP [TIMEOUT]")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	timeout := argTimeout(ts, args, 1, 30*time.Second)
	type status struct {
		Fleet *struct {
			Safety string `json:"safety"`
		} `json:"fleet"`
	}
	if last, ok := pollMztJSON(ts, timeout, []string{"conductor-status", "--json"}, func(st status) bool {
		return st.Fleet != nil && re.MatchString(st.Fleet.Safety)
	}); !ok {
		ts.Fatalf("fleet safety does not match %s after %s: %s", args[0], timeout, last)
	}
}
