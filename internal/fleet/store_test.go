package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// testEtcd starts a one-node etcd for the test (skipped without etcd:
// MZT_ETCD, else etcd on PATH; a broken MZT_ETCD fails).
func testEtcd(t *testing.T) *clientv3.Client {
	t.Helper()
	bin := os.Getenv("MZT_ETCD")
	if bin == "" {
		p, err := exec.LookPath("etcd")
		if err != nil {
			t.Skip("etcd is not installed (install etcd-server or set MZT_ETCD)")
		}
		bin = p
	}
	var ports [2]int
	var lns []net.Listener
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		lns = append(lns, ln)
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cmd := exec.Command(bin, "--name", "t", "--data-dir", t.TempDir(), "--listen-client-urls", client,
		"--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "t="+peer)
	// The ports are held until here so that nothing else takes them.
	for _, ln := range lns {
		ln.Close()
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "ping")
		cancel()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd did not answer within 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestClaimHasOneWinner(t *testing.T) {
	c := testEtcd(t)
	ctx := context.Background()
	s := store{c}
	if err := s.submit(ctx, Job{ID: "j", Bundle: Bundle{Source: []byte("x")}, Replace: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.submit(ctx, Job{ID: "j"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second submit: %v, want ErrExists", err)
	}
	view, err := s.queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cand := view.jobs["j"]
	// Rounds read the queue; the score stays out of it until a claim.
	if len(cand.job.Source) != 0 {
		t.Fatal("the queue's record carries the score")
	}
	if b, err := s.bundle(ctx, "j"); err != nil || string(b.Source) != "x" {
		t.Fatalf("bundle: %q, %v", b.Source, err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := c.Grant(ctx, 30)
			if err != nil {
				t.Error(err)
				return
			}
			_, _, won, err := s.claim(ctx, cand, fmt.Sprintf("m%d", i), g.ID, "")
			if err != nil {
				t.Error(err)
			}
			if won {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d members won the claim, want 1", n)
	}
}

func TestClaimDiesWithItsLease(t *testing.T) {
	c := testEtcd(t)
	ctx := context.Background()
	s := store{c}
	if err := s.submit(ctx, Job{ID: "j", Replace: true}); err != nil {
		t.Fatal(err)
	}
	view, _ := s.queue(ctx)
	lease, err := c.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	rev, _, won, err := s.claim(ctx, view.jobs["j"], "a", lease.ID, "")
	if err != nil || !won {
		t.Fatalf("claim: won %v, %v", won, err)
	}
	// a's tries spent $2 so far.
	spent := view.jobs["j"].job
	spent.State, spent.Member, spent.SpentUSD = StateRunning, "a", 2
	if err := s.recordSpend(ctx, spent, rev); err != nil {
		t.Fatal(err)
	}
	// Member a is gone: its lease ends, and with it the claim.
	if _, err := c.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	view, _ = s.queue(ctx)
	if _, held := view.claims["j"]; held {
		t.Fatal("the claim outlived its lease")
	}
	j := view.jobs["j"]
	if j.job.State != StateRunning || j.job.Member != "a" {
		t.Fatalf("job after a left: %+v", j.job)
	}
	// b places it again; a's late report of its end is refused.
	lb, _ := c.Grant(ctx, 30)
	_, bj, won, err := s.claim(ctx, j, "b", lb.ID, "placed again")
	if err != nil || !won {
		t.Fatalf("b's claim: won %v, %v", won, err)
	}
	if bj.PriorUSD != 2 || bj.SpentUSD != 0 {
		t.Fatalf("b's placement: prior $%v, spent $%v; want a's $2 as prior", bj.PriorUSD, bj.SpentUSD)
	}
	// a's late spend is refused: the claim is b's.
	spent.SpentUSD = 5
	s.recordSpend(ctx, spent, rev)
	if v, _ := s.queue(ctx); v.jobs["j"].job.SpentUSD != 0 {
		t.Fatalf("a wrote its spend after losing the claim: %+v", v.jobs["j"].job)
	}
	if ok, err := s.finish(ctx, "j", rev, doneRecord{ID: "j", State: "completed", Member: "a"}, 0); err != nil || ok {
		t.Fatalf("a's finish after losing the claim: ok %v, %v (want refused)", ok, err)
	}
	member, state, err := s.where(ctx, "j")
	if err != nil || member != "b" || state != StateRunning {
		t.Fatalf("where: %q %q %v, want b running", member, state, err)
	}
	// b's end is recorded, and the bundle goes with the job.
	view, _ = s.queue(ctx)
	keep, _ := c.Grant(ctx, 60)
	if ok, err := s.finish(ctx, "j", view.claims["j"].rev, doneRecord{ID: "j", State: "completed", Member: "b"}, keep.ID); err != nil || !ok {
		t.Fatalf("b's finish: ok %v, %v", ok, err)
	}
	if _, err := s.bundle(ctx, "j"); err == nil {
		t.Error("the bundle outlived its job")
	}
	if member, state, err := s.where(ctx, "j"); err != nil || member != "b" || state != "completed" {
		t.Fatalf("where after the end: %q %q %v", member, state, err)
	}
	// The record of the end is kept only as long as its lease.
	c.Revoke(ctx, keep.ID)
	if _, _, err := s.where(ctx, "j"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("where after the end's lease: %v, want ErrNotFound", err)
	}
}

func TestSubmitRefusesWhatEtcdCannotHold(t *testing.T) {
	c := testEtcd(t)
	big := Job{ID: "big", Bundle: Bundle{Files: []File{{Path: "p.md", Content: []byte(strings.Repeat("x", 2<<20))}}}}
	err := store{c}.submit(context.Background(), big)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("submit of a 2 MiB bundle: %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "KiB") {
		t.Errorf("the error should say the sizes: %v", err)
	}
}

func TestReleaseQueuesTheJobAgain(t *testing.T) {
	c := testEtcd(t)
	ctx := context.Background()
	m := &Member{cli: c, st: store{c}, opts: Options{Name: "a", Log: slog.New(slog.DiscardHandler)},
		owned: map[string]*ownedJob{}, lost: map[string]bool{}, disk: disk{dir: t.TempDir()}}
	if err := m.st.submit(ctx, Job{ID: "j", Replace: true}); err != nil {
		t.Fatal(err)
	}
	view, _ := m.st.queue(ctx)
	lease, _ := c.Grant(ctx, 30)
	rev, job, won, err := m.st.claim(ctx, view.jobs["j"], "a", lease.ID, "")
	if err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	m.release(ctx, job, rev, "draining")
	view, _ = m.st.queue(ctx)
	if _, held := view.claims["j"]; held {
		t.Fatal("the claim is still held")
	}
	got := view.jobs["j"].job
	if got.State != StateQueued || got.Member != "" || got.Reason != "given back by a: draining" {
		t.Fatalf("job after release: %+v", got)
	}
}
