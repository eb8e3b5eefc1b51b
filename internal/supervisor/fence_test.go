package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A conductor killed with a start request still unread in the supervisor's
// socket: the request is read after the next conductor has claimed the
// supervisor (listed its tries to adopt). It must be refused, never forked:
// the new conductor already judged that sheet as not running and runs it
// again, so a late fork would run it twice.
func TestStartFromAnOlderGenerationIsRefusedAfterAClaim(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	old := c
	old.Gen = 10
	release, err := old.Attach(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	before := shellTry(t, "run/1/1", `sleep 5`)
	if _, err := old.Start(ctx, before); err != nil {
		t.Fatalf("start by the attached conductor: %v", err)
	}

	newer := c
	newer.Gen = 11
	rep, err := newer.Claim(ctx)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	if len(rep.Tries) != 1 || rep.Tries[0].Spec.Token != before.Token {
		t.Fatalf("claimed tries %+v, want %s", rep.Tries, before.Token)
	}

	late := shellTry(t, "run/2/1", `echo ran > `+t.TempDir()+`/ran`)
	_, err = old.Start(ctx, late)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "generation") {
		t.Fatalf("late start of the old conductor: %v, want a refusal naming the generation", err)
	}
	if _, err := os.Stat(late.StdoutPath); !os.IsNotExist(err) {
		t.Errorf("the refused try's output was opened: %v", err)
	}
	if _, err := newer.Start(ctx, shellTry(t, "run/3/1", `true`)); err != nil {
		t.Errorf("start by the claiming conductor: %v", err)
	}
	// An older conductor cannot take the supervisor back.
	if _, err := old.Claim(ctx); !errors.Is(err, ErrRefused) {
		t.Errorf("claim by an older generation: %v, want refused", err)
	}
	if _, err := old.Attach(ctx); !errors.Is(err, ErrRefused) {
		t.Errorf("attach by an older generation: %v, want refused", err)
	}
	// Listing without claiming (conductor-status) fences nothing.
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := newer.Start(ctx, shellTry(t, "run/4/1", `true`)); err != nil {
		t.Errorf("start after a plain hello: %v", err)
	}
}

// Listing and claiming is atomic with respect to starts: while an old
// conductor keeps starting tries, every start it was told succeeded is in
// the new conductor's list, and every start after the claim is refused.
func TestClaimIsAtomicWithStarts(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	old, newer := c, c
	old.Gen, newer.Gen = 1, 2
	var (
		mu      sync.Mutex
		started = map[string]bool{}
		refused int
		wg      sync.WaitGroup
	)
	var claimed atomic.Bool
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := 0 // starts sent once the claim is known done
			for i := 0; after < 2; i++ {
				if claimed.Load() {
					after++
				}
				spec := shellTry(t, fmt.Sprintf("run/%d/%d", w, i), `sleep 2`)
				_, err := old.Start(ctx, spec)
				mu.Lock()
				switch {
				case err == nil:
					started[spec.Token] = true
				case errors.Is(err, ErrRefused):
					refused++
					if _, err := os.Stat(spec.StdoutPath); !os.IsNotExist(err) {
						t.Errorf("refused try %s left its output file: %v", spec.Token, err)
					}
				default:
					t.Errorf("start: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	// Let some starts land first.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(started)
		mu.Unlock()
		if n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start landed")
		}
		time.Sleep(time.Millisecond)
	}
	rep, err := newer.Claim(ctx)
	claimed.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tr := range rep.Tries {
		listed[tr.Spec.Token] = true
	}
	mu.Lock()
	defer mu.Unlock()
	if refused == 0 {
		t.Fatal("no start was refused after the claim")
	}
	for tok := range started {
		if !listed[tok] {
			t.Errorf("try %s was started but missing from the claim's list", tok)
		}
	}
	for tok := range listed {
		if !started[tok] {
			t.Errorf("listed try %s was never reported started", tok)
		}
	}
}

// Run starts and waits on one connection; hanging up that connection (a
// conductor leaving) leaves the try running, to be waited for by the next.
func TestRunWaitsOnItsConnection(t *testing.T) {
	c, _, _ := spawn(t)
	ctx := context.Background()
	spec := shellTry(t, "run/9/1", `exit 4`)
	if _, r, err := c.Run(ctx, spec); err != nil {
		t.Fatal(err)
	} else if ex, err := r.Wait(ctx); err != nil || ex.Code != 4 {
		t.Fatalf("run: %+v %v", ex, err)
	}
	spec = shellTry(t, "run/9/2", `sleep 0.3; exit 5`)
	p, r, err := c.Run(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	ex, err := c.Wait(ctx, spec.Token)
	if err != nil || ex.Code != 5 {
		t.Fatalf("wait after the first connection was dropped: %+v %v (pid %d)", ex, err, p.PID)
	}
	// A fenced conductor's run is refused like its start.
	old, newer := c, c
	old.Gen, newer.Gen = 1, 2
	if _, err := newer.Claim(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := old.Run(ctx, shellTry(t, "run/9/3", `true`)); !errors.Is(err, ErrRefused) {
		t.Fatalf("run of a fenced conductor: %v", err)
	}
}

// BenchmarkRun is BenchmarkStartWait on one connection (op run).
func BenchmarkRun(b *testing.B) {
	c, _, _ := spawn(b)
	dir := b.TempDir()
	for i := range b.N {
		tok := fmt.Sprintf("bench/1/%d", i)
		spec := TrySpec{Token: tok, Argv: []string{"/bin/true"}, Dir: dir,
			StdoutPath: filepath.Join(dir, "out"), StderrPath: filepath.Join(dir, "out"), ExitPath: filepath.Join(dir, "exit")}
		_, r, err := c.Run(context.Background(), spec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// A frame far beyond the read buffer (a large prompt on stdin) arrives whole.
func TestLargeStdinArrivesWhole(t *testing.T) {
	c, _, _ := spawn(t)
	spec := shellTry(t, "run/8/1", `wc -c`)
	spec.Stdin = strings.Repeat("x", 3<<20)
	_, r, err := c.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if ex, err := r.Wait(context.Background()); err != nil || ex.Code != 0 {
		t.Fatalf("%+v %v", ex, err)
	}
	if got := strings.TrimSpace(readFile(t, spec.StdoutPath)); got != fmt.Sprint(3<<20) {
		t.Errorf("child read %s bytes, want %d", got, 3<<20)
	}
}
