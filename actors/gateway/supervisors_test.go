package gateway

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// Many conductor-status requests at once share one look at the
// supervisors, and each gets its own copy of the answer.
func TestSupervisorLookIsShared(t *testing.T) {
	var looks atomic.Int32
	release := make(chan struct{})
	l := &supervisorLook{look: func(string, int) []*messages.SupervisorInfo {
		looks.Add(1)
		<-release
		return []*messages.SupervisorInfo{{Pid: 42, Tries: 1}}
	}}
	const callers = 50
	var wg sync.WaitGroup
	got := make([][]*messages.SupervisorInfo, callers)
	ask := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = l.get("dir", 1)
		}()
	}
	ask(0)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the first look", func() bool { return looks.Load() == 1 })
	for i := 1; i < callers; i++ {
		ask(i)
	}
	waitFor("every other request to join it", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.pending != nil && l.pending.joined == callers-1
	})
	close(release)
	wg.Wait()
	if n := looks.Load(); n != 1 {
		t.Errorf("%d looks for %d requests at once, want one", n, callers)
	}
	for i, g := range got {
		if len(g) != 1 || g[0].GetPid() != 42 {
			t.Fatalf("caller %d got %v", i, g)
		}
		if i > 0 && g[0] == got[0][0] {
			t.Fatalf("callers %d and 0 share one message: an answer must be a copy", i)
		}
	}
	// A later request looks again: nothing is cached past the look.
	l.get("dir", 1)
	if n := looks.Load(); n < 2 {
		t.Errorf("a request after the shared look did not look again (%d looks)", n)
	}
}
