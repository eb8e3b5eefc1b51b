package cli

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/config"
	"github.com/mzt-dev/mzt/messages"
)

// eventConductor answers status requests with the job as the test set it,
// counting them, and holds event streams open, sending an event to each
// whenever the test publishes one.
type eventConductor struct {
	t        *testing.T
	ln       net.Listener
	reads    atomic.Int64 // status requests answered
	mu       sync.Mutex
	job      *messages.JobStatus
	streams  []chan *messages.Event
	seq      int64
	noEvents bool // answer an event request as a conductor without events does
}

func newEventConductor(t *testing.T) (*eventConductor, string) {
	dir, err := os.MkdirTemp("", "mztc") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &eventConductor{t: t, ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); f.publish(nil); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); f.serve(c) }()
		}
	}()
	return f, sock
}

func (f *eventConductor) set(status string, completed, total int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.job = &messages.JobStatus{Job: &messages.JobInfo{Id: "j", Status: status, SheetsCompleted: completed, SheetsTotal: total,
		StartedAtUnixNano: 1}}
}

// publish sends an event to every open stream; nil ends them all.
func (f *eventConductor) publish(e *messages.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.streams {
		if e == nil {
			close(s)
		} else {
			f.seq++
			s <- &messages.Event{Seq: f.seq, Kind: e.Kind, JobId: e.JobId, Status: e.Status}
		}
	}
	if e == nil {
		f.streams = nil
	}
}

func (f *eventConductor) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		var env messages.Envelope
		if err := messages.ReadFrame(r, &env); err != nil {
			return
		}
		id := env.GetCorrelationId()
		switch req := messages.Unwrap(&env).(type) {
		case *messages.JobStatusRequest:
			f.reads.Add(1)
			f.mu.Lock()
			st := f.job
			f.mu.Unlock()
			messages.WriteFrame(c, messages.MustWrap(id, st))
		case *messages.EventsRequest:
			if f.noEvents {
				messages.WriteFrame(c, &messages.Envelope{CorrelationId: id, Body: &messages.Envelope_Error{
					Error: messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "", "this conductor keeps no events")}})
				continue
			}
			ch := make(chan *messages.Event, 64)
			f.mu.Lock()
			f.streams = append(f.streams, ch)
			f.mu.Unlock()
			for e := range ch {
				if e.JobId == req.GetJobId() || req.GetJobId() == "" {
					if messages.WriteFrame(c, messages.MustWrap(id, e)) != nil {
						return
					}
				}
			}
			messages.WriteFrame(c, &messages.Envelope{CorrelationId: id, Body: &messages.Envelope_StreamEnd{StreamEnd: &messages.StreamEnd{}}})
			return
		default:
			f.t.Errorf("fake conductor: unexpected %T", req)
			return
		}
	}
}

func (f *eventConductor) streamsOpen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.streams)
}

func waitUntilTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func eventGlobals(ctx context.Context, sock string) (*Globals, *bytes.Buffer) {
	var out bytes.Buffer
	return &Globals{env: Env{Stdout: &out, Stderr: &bytes.Buffer{}}, ctx: ctx, paths: config.Paths{Socket: sock}}, &out
}

// run --wait reads the job's status when an event says it changed: while
// its sheet runs without an event it reads nothing (it read every 200 ms).
func TestWaitJobReadsStatusOnEventsOnly(t *testing.T) {
	f, sock := newEventConductor(t)
	f.set("running", 0, 2)
	g, out := eventGlobals(context.Background(), sock)
	done := make(chan error, 1)
	go func() { _, err := waitJobOnce(g, "j", true); done <- err }()
	waitUntilTrue(t, "the event stream", func() bool { return f.streamsOpen() == 1 })
	waitUntilTrue(t, "the first read", func() bool { return f.reads.Load() >= 1 })
	time.Sleep(time.Second) // idle: no event, no read
	if n := f.reads.Load(); n != 1 {
		t.Fatalf("%d status reads in a second without events, want 1", n)
	}
	f.set("running", 1, 2)
	f.publish(&messages.Event{Kind: "sheet.status", JobId: "j", Status: "completed"})
	waitUntilTrue(t, "the read after an event", func() bool { return f.reads.Load() == 2 })
	f.publish(&messages.Event{Kind: "sheet.status", JobId: "other", Status: "completed"})
	f.set("completed", 2, 2)
	f.publish(&messages.Event{Kind: "job.status", JobId: "j", Status: "completed"})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end with the job")
	}
	want := "job j: running · 0/2 sheets completed · ETA unknown\njob j: running · 1/2 sheets completed · ETA unknown\njob j: completed · 2/2 sheets completed\n"
	if got := out.String(); !strings.HasPrefix(got, want) || !strings.Contains(got, "job j completed after") {
		t.Fatalf("output:\n%s\nwant it to start with:\n%s", got, want)
	}
	if n := f.reads.Load(); n != 3 {
		t.Errorf("%d status reads for two events of the job, want 3", n)
	}
}

// A conductor that serves no event stream is read every tick, as before.
func TestWaitJobPollsWithoutEvents(t *testing.T) {
	f, sock := newEventConductor(t)
	f.noEvents = true
	f.set("running", 0, 1)
	g, _ := eventGlobals(context.Background(), sock)
	done := make(chan error, 1)
	go func() { _, err := waitJobOnce(g, "j", false); done <- err }()
	waitUntilTrue(t, "reads on a timer", func() bool { return f.reads.Load() >= 3 })
	f.set("completed", 1, 1)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end with the job")
	}
}

// A stream the conductor ends (it is stopping) is a lost conductor, which
// the reconnector waits out.
func TestWaitJobStreamEndIsLostConductor(t *testing.T) {
	f, sock := newEventConductor(t)
	f.set("running", 0, 1)
	g, _ := eventGlobals(context.Background(), sock)
	done := make(chan error, 1)
	go func() { _, err := waitJobOnce(g, "j", false); done <- err }()
	waitUntilTrue(t, "the event stream", func() bool { return f.streamsOpen() == 1 })
	f.publish(nil)
	select {
	case err := <-done:
		if !lostConductor(err) {
			t.Fatalf("err = %v, want a lost conductor", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end with the stream")
	}
}

// status --watch shows the job again when an event says it changed, and
// ends with it; without events it reads nothing (it read every second).
func TestWatchReadsStatusOnEventsOnly(t *testing.T) {
	f, sock := newEventConductor(t)
	f.set("running", 0, 2)
	g, out := eventGlobals(context.Background(), sock)
	c := &StatusCmd{Job: "j"}
	done := make(chan error, 1)
	go func() { done <- c.watchOnce(g, g.reconnector(0)) }()
	waitUntilTrue(t, "the event stream", func() bool { return f.streamsOpen() == 1 })
	waitUntilTrue(t, "the first read", func() bool { return f.reads.Load() >= 1 })
	time.Sleep(1500 * time.Millisecond)
	if n := f.reads.Load(); n != 1 {
		t.Fatalf("%d status reads in 1.5 s without events, want 1", n)
	}
	f.set("completed", 2, 2)
	f.publish(&messages.Event{Kind: "job.status", JobId: "j", Status: "completed"})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not end with the job")
	}
	if n := f.reads.Load(); n != 2 {
		t.Errorf("%d status reads, want 2", n)
	}
	if got := strings.Count(out.String(), "job j · "); got != 2 {
		t.Errorf("printed %d snapshots, want 2 (running, completed):\n%s", got, out.String())
	}
}
