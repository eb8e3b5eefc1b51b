package fleet

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A lease taken up from a run with a shorter lease_ttl ends sooner than
// this member's fence reckons: it is given up (revoked, so its jobs are
// placed again at once) and the member joins under a lease of its own TTL.
func TestShorterLeaseTakenUpIsGivenUp(t *testing.T) {
	c := testEtcd(t)
	ctx := context.Background()
	old, err := c.Grant(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := (store{c}).claimName(ctx, "m1", old.ID); err != nil { // as the earlier run left it
		t.Fatal(err)
	}
	m := &Member{opts: Options{Name: "m1", LeaseTTL: 6 * time.Second, Log: slog.New(slog.DiscardHandler)},
		cli: c, st: store{c}, disk: disk{t.TempDir()}, owned: map[string]*ownedJob{}, lost: map[string]bool{},
		limits: map[string]time.Time{}, kick: make(chan struct{}, 1), renewed: make(chan struct{}), lease: old.ID}
	m.keepAlive(ctx)
	if ttl, err := c.TimeToLive(ctx, old.ID); err != nil || ttl.TTL != -1 {
		t.Fatalf("the shorter lease: %+v, %v; want it revoked", ttl, err)
	}
	m.mu.Lock()
	lease := m.lease
	m.mu.Unlock()
	if lease == 0 || lease == old.ID {
		t.Fatalf("member lease %x, want a new one", lease)
	}
	ttl, err := c.TimeToLive(ctx, lease)
	if err != nil || ttl.GrantedTTL != 6 {
		t.Fatalf("new lease: %+v, %v; want a TTL of 6 s", ttl, err)
	}
	// A lease of the member's own TTL is kept.
	m.keepAlive(ctx)
	m.mu.Lock()
	again := m.lease
	m.mu.Unlock()
	if again != lease {
		t.Fatalf("a lease of the right TTL was replaced: %x -> %x", lease, again)
	}
}
