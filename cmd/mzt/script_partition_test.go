package main

import (
	"fmt"
	"net"
	"net/url"
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
}

var (
	linksMu sync.Mutex
	links   = map[*testscript.TestScript]map[string][]*forwarder{}
)

// etcdlink NAME: a forwarder to each node of the script's etcd3 cluster,
// for one member; sets NAME_ENDPOINTS (a TOML array's items) to them.
func cmdEtcdLink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: etcdlink NAME (after etcd3 start)")
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
		f, err := newForwarder(target.Host)
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

// partition NAME cut|heal: cut the member NAME off etcd (a black hole), or
// join it again (the connections the cut held are closed, new ones pass).
func cmdPartition(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || (args[1] != "cut" && args[1] != "heal") {
		ts.Fatalf("usage: partition NAME cut|heal")
	}
	linksMu.Lock()
	fws := links[ts][args[0]]
	linksMu.Unlock()
	if fws == nil {
		ts.Fatalf("partition: no etcdlink %s", args[0])
	}
	for _, f := range fws {
		f.setCut(args[1] == "cut")
	}
	ts.Logf("etcd link %s: %s", args[0], args[1])
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

func newForwarder(target string) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
