package supervisor

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// groupAlive reports whether any process of group pgid lives.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// waitGroupGone waits, within limit, for group pgid to be gone.
func waitGroupGone(t *testing.T, pgid int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for groupAlive(pgid) {
		if time.Since(start) > limit {
			t.Fatalf("group %d still runs after %s", pgid, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// waitExitCode waits for the try's exit file and returns its code.
func waitExitCode(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, err := readExitFile(path); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("no exit file %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readExitFile(path string) (int, error) {
	b, err := readFileErr(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(b))
}

func guarded(spec TrySpec, after, grace time.Duration) TrySpec {
	spec.KillIfOrphanedMS, spec.OrphanGraceMS = after.Milliseconds(), grace.Milliseconds()
	return spec
}

// When the conductor holding the supervisor goes and none claims it, a
// guarded try's whole group is stopped after its deadline (not before), and
// recorded as a death by signal even when the try exits cleanly on SIGTERM:
// a conductor that comes back runs it again instead of judging it.
func TestOrphanGuardStopsTheTryWhenTheConductorIsGone(t *testing.T) {
	cases := []struct {
		name, script string
	}{
		{"killed by SIGTERM", `sleep 60 & wait`},
		{"exits 0 on SIGTERM", `trap 'exit 0' TERM; sleep 60 & wait`},
		{"ignores SIGTERM", `trap '' TERM; sleep 60 & wait`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := spawn(t)
			ctx := context.Background()
			a, err := c.AttachWatching(ctx)
			if err != nil {
				t.Fatal(err)
			}
			const after, grace = 400 * time.Millisecond, 300 * time.Millisecond
			spec := guarded(shellTry(t, "run/"+strconv.Itoa(i)+"/1", tc.script), after, grace)
			p, err := c.Start(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			// Held by a conductor: the deadline does not run.
			time.Sleep(2 * after)
			if !groupAlive(p.PGID) {
				t.Fatal("the try died while its conductor held the supervisor")
			}
			a.Release()
			left := time.Now()
			waitGroupGone(t, p.PGID, 5*time.Second)
			if took := time.Since(left); took < after {
				t.Errorf("stopped %s after the conductor left, before its deadline %s", took, after)
			}
			if code := waitExitCode(t, spec.ExitPath); code <= 128 {
				t.Errorf("exit file records %d, want a death by signal (> 128)", code)
			}
			rep, err := c.Hello(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Tries) != 1 || rep.Tries[0].Exit == nil || !rep.Tries[0].Exit.Orphaned {
				t.Errorf("the supervisor lists %+v, want the try ended as orphaned", rep.Tries)
			}
		})
	}
}

// A conductor that claims the supervisor before the deadline keeps the
// tries (a quick restart) as long as it follows them: a wait holds the
// supervisor as an attachment does, and its going arms the deadline again.
func TestOrphanGuardCancelledByAClaimInTime(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	a, err := c.AttachWatching(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The claim and the wait must land within the deadline: generous, for
	// a loaded machine under -race.
	const after = 2 * time.Second
	spec := guarded(shellTry(t, "run/1/1", `sleep 60 & wait`), after, 200*time.Millisecond)
	p, err := c.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	next := c
	next.Gen = 2
	if _, err := next.Claim(ctx); err != nil {
		t.Fatal(err)
	}
	// The new conductor follows its adopted try on a connection.
	wctx, cancel := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() { _, err := next.Wait(wctx, spec.Token); waited <- err }()
	time.Sleep(3 * after) // well past the deadline: the wait holds it (proving an absence, so a plain sleep)
	if !groupAlive(p.PGID) {
		t.Fatal("the try died while the conductor that claimed the supervisor waited on it")
	}
	// Then it dies too.
	cancel()
	<-waited
	waitGroupGone(t, p.PGID, 5*time.Second)
}

// Without the option, a try runs on however long no conductor comes: live
// restart adopts it after any outage.
func TestUnguardedTrySurvivesTheConductorsLoss(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	a, err := c.AttachWatching(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.Start(ctx, shellTry(t, "run/1/1", `sleep 60 & wait`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Start(ctx, guarded(shellTry(t, "run/2/1", `sleep 60 & wait`), 200*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	waitGroupGone(t, g.PGID, 5*time.Second)
	time.Sleep(300 * time.Millisecond) // well past the guarded try's deadline and grace
	if !groupAlive(plain.PGID) {
		t.Fatal("a try without an orphan deadline was stopped")
	}
}

// A supervisor too old to know the field is never sent a guarded try.
func TestGuardedTryRefusedForAnOlderProtocol(t *testing.T) {
	spec := guarded(TrySpec{Token: "run/1/1"}, time.Second, time.Second)
	old := Client{Path: "/nonexistent.sock", V: 2}
	if _, _, err := old.Run(context.Background(), spec); !errors.Is(err, ErrNoOrphanGuard) {
		t.Fatalf("Run on protocol 2: %v, want ErrNoOrphanGuard", err)
	}
	if _, err := old.Start(context.Background(), spec); !errors.Is(err, ErrNoOrphanGuard) {
		t.Fatalf("Start on protocol 2: %v, want ErrNoOrphanGuard", err)
	}
	if !(Client{}).GuardsOrphans() || !(Client{V: 3}).GuardsOrphans() {
		t.Fatal("protocol 3 guards orphans")
	}
}

func readFileErr(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

// Only a held connection (an attachment, a wait) cancels the deadline; a
// claim alone does not, whatever order the kernel tells the ends in, so
// claims that no wait follows (a conductor crashing during its start, again
// and again) never keep a try past the deadline since its last conductor
// left.
func TestOrphanGuardOnlyAHoldCancels(t *testing.T) {
	cases := []struct {
		name  string
		steps func(tab *table)
		armed bool
	}{
		{"old end after a claim", func(tab *table) {
			tab.hold()
			tab.claim(2)
			tab.release()
		}, true},
		{"claims after the old end", func(tab *table) {
			tab.hold()
			tab.release()
			tab.claim(2)
			tab.claim(3)
		}, true},
		{"the claimer waits after the old end", func(tab *table) {
			tab.hold()
			tab.claim(2)
			tab.release()
			tab.hold()
		}, false},
		{"the claimer waits before the old end", func(tab *table) {
			tab.hold()
			tab.claim(2)
			tab.hold()
			tab.release()
		}, false},
		{"the claimer's wait ends too", func(tab *table) {
			tab.hold()
			tab.claim(2)
			tab.hold()
			tab.release()
			tab.release()
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTable()
			tr := &try{spec: TrySpec{Token: "run/1/1"}, proc: Proc{PID: 1 << 30},
				guard: guard{after: time.Hour, grace: time.Second}}
			tab.live[tr.proc.PID] = tr
			tc.steps(tab)
			tab.mu.Lock()
			armed := tr.guard.timer != nil
			if armed {
				tr.guard.timer.Stop()
			}
			tab.mu.Unlock()
			if armed != tc.armed {
				t.Fatalf("deadline armed: %v, want %v", armed, tc.armed)
			}
		})
	}
}

// Claims that no wait follows, one after another within the deadline, do
// not keep a guarded try alive: it is stopped once the deadline since its
// last conductor left has passed.
func TestOrphanGuardRunsThroughRepeatedClaims(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	a, err := c.AttachWatching(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const after = time.Second
	spec := guarded(shellTry(t, "run/1/1", `sleep 60 & wait`), after, 200*time.Millisecond)
	p, err := c.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	left := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a conductor crashing at start, again and again
		next := c
		for gen := uint64(2); ; gen++ {
			next.Gen = gen
			_, _ = next.Claim(ctx)
			select {
			case <-stop:
				return
			case <-time.After(after / 4):
			}
		}
	}()
	waitGroupGone(t, p.PGID, 10*time.Second)
	if took := time.Since(left); took < after {
		t.Errorf("stopped %s after the conductor left, before its deadline %s", took, after)
	}
}
