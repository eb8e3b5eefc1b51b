package gateway

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// waitUntil polls cond until it holds or waitFor passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after %s", what, waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A frame started and left unfinished is cut after FrameTimeout, with an
// error; a connection that sends nothing between frames is not.
func TestServerFrameTimeout(t *testing.T) {
	_, path := startServer(t, handlerFunc(healthOnly), ServerOptions{FrameTimeout: 200 * time.Millisecond})
	quiet := dial(t, path)
	quiet.health(t, 1)
	stalled := dial(t, path)
	start := time.Now()
	stalled.sendRaw(t, append(varint(50), 1, 2, 3))
	e := stalled.recvError(t, 0, messages.ErrorCode_ERROR_CODE_BAD_REQUEST)
	if !strings.Contains(e.GetMessage(), "not completed within 200ms") {
		t.Errorf("error %q does not say the frame took too long", e.GetMessage())
	}
	stalled.expectClosed(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a stalled frame was cut after %s, want about 200ms", d)
	}
	quiet.health(t, 2) // idle between frames for longer than FrameTimeout: still served
}

// Large frames share one budget: while one holds it, another large frame is
// refused with BUSY and its connection closed; small requests go on; once
// the first frame is in, the budget is free again.
func TestServerFrameBudget(t *testing.T) {
	const budget = 1 << 20
	s, path := startServer(t, handlerFunc(healthOnly), ServerOptions{FrameBudget: budget})
	big := func(n int) []byte {
		b, err := proto.Marshal(messages.MustWrap(5, &messages.JobStatusRequest{JobId: strings.Repeat("x", n)}))
		if err != nil {
			t.Fatal(err)
		}
		return append(varint(uint64(len(b))), b...)
	}
	hog := dial(t, path)
	frame := big(900 << 10)
	hog.sendRaw(t, frame[:800<<10]) // all but the last 100 KiB
	waitUntil(t, "holding the budget", func() bool { return s.budget.InUse() > budget/2 })

	late := dial(t, path)
	late.sendRaw(t, big(200 << 10)[:100<<10])
	e := late.recvError(t, 0, messages.ErrorCode_ERROR_CODE_BUSY)
	if !strings.Contains(e.GetMessage(), "too many large frames") {
		t.Errorf("budget refusal says %q", e.GetMessage())
	}
	late.expectGone(t)
	dial(t, path).health(t, 1)

	hog.sendRaw(t, frame[800<<10:])
	hog.recvError(t, 5, messages.ErrorCode_ERROR_CODE_UNSUPPORTED) // healthOnly's answer: the frame was read whole
	waitUntil(t, "releasing the budget", func() bool { return s.budget.InUse() == 0 })
	again := dial(t, path)
	again.sendRaw(t, big(200<<10))
	again.recvError(t, 5, messages.ErrorCode_ERROR_CODE_UNSUPPORTED)
}

// When a uid's slots are full, a new connection closes the one idle the
// longest; a connection with a request in flight is never chosen, and with
// none idle the newcomer is refused.
func TestServerEvictsLongestIdle(t *testing.T) {
	release := make(chan struct{})
	h := handlerFunc(func(ctx context.Context, req proto.Message, send func(proto.Message) error) (proto.Message, error) {
		if _, ok := req.(*messages.JobStatusRequest); ok {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return &messages.JobStatus{}, nil
		}
		return healthOnly(ctx, req, send)
	})
	s, path := startServer(t, h, ServerOptions{MaxConnsPerUID: 3})
	t.Cleanup(func() { close(release) }) // before the server closes
	busy := dial(t, path)
	busy.send(t, 1, &messages.JobStatusRequest{JobId: "j"}) // in flight until release
	oldest, newer := dial(t, path), dial(t, path)
	oldest.health(t, 1)
	newer.health(t, 1)
	waitUntil(t, "one request in flight", func() bool { return activeCount(s) == 1 })

	fresh := dial(t, path)
	fresh.health(t, 1) // served: oldest made room
	oldest.expectClosed(t)
	newer.health(t, 2)
	// The server counts a request done just after its answer is written.
	waitUntil(t, "fresh and newer idle", func() bool { return activeCount(s) == 1 })

	// newer was just used: fresh is now the longest idle.
	another := dial(t, path)
	another.health(t, 1)
	fresh.expectClosed(t)

	// Everyone busy: the newcomer is refused, nobody is closed.
	newer.send(t, 3, &messages.JobStatusRequest{JobId: "j"})
	another.send(t, 2, &messages.JobStatusRequest{JobId: "j"})
	waitUntil(t, "three requests in flight", func() bool { return activeCount(s) == 3 })
	refused := dial(t, path)
	refused.recvError(t, 0, messages.ErrorCode_ERROR_CODE_BUSY)
	refused.expectClosed(t)
}

// activeCount is the number of requests in flight over all connections.
func activeCount(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		n += c.active
	}
	return n
}

// expectGone is expectClosed for a connection closed with bytes of ours
// still unread, which the kernel may report as a reset.
func (tc *testConn) expectGone(t *testing.T) {
	t.Helper()
	if env, err := tc.read(); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection still open: read %v, %v; want EOF or a reset", env, err)
	}
}
