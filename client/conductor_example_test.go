package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
)

// The examples run against a stand-in conductor on a private home's
// api.sock: the real one is exercised by the script tests of cmd/mzt.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "mzt-client")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("MARIANNE_HOME", home)
	os.Setenv("MZT_CLONE", "")
	stop, err := serveFake(filepath.Join(home, "api.sock"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.RemoveAll(home)
	os.Exit(code)
}

// fakeConductor runs every submitted job at once: three events, completed.
type fakeConductor struct {
	messagesconnect.UnimplementedConductorHandler
	mu   sync.Mutex
	jobs map[string]*messages.SubmitJobRequest
}

func (f *fakeConductor) Health(context.Context, *connect.Request[messages.HealthRequest]) (*connect.Response[messages.HealthResponse], error) {
	return connect.NewResponse(&messages.HealthResponse{Version: "fake", ProtocolVersion: messages.ProtocolVersion,
		MinProtocolVersion: messages.MinProtocolVersion, NegotiatedProtocolVersion: messages.ProtocolVersion, Ready: true}), nil
}

func (f *fakeConductor) Submit(_ context.Context, r *connect.Request[messages.SubmitJobRequest]) (*connect.Response[messages.SubmitJobResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs["review"] = r.Msg
	return connect.NewResponse(&messages.SubmitJobResponse{JobId: "review", Status: "running", SheetsTotal: 1}), nil
}

func (f *fakeConductor) Job(_ context.Context, r *connect.Request[messages.JobStatusRequest]) (*connect.Response[messages.JobStatus], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub := f.jobs[r.Msg.GetJobId()]
	if sub == nil {
		err := connect.NewError(connect.CodeNotFound, errors.New("job "+r.Msg.GetJobId()+" not found"))
		if d, derr := connect.NewErrorDetail(messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt list --all",
			"job %s not found", r.Msg.GetJobId())); derr == nil {
			err.AddDetail(d)
		}
		return nil, err
	}
	return connect.NewResponse(&messages.JobStatus{Job: &messages.JobInfo{Id: "review", Status: "completed",
		SheetsTotal: 1, SheetsCompleted: 1, Error: fmt.Sprintf("%d prompt file(s) received", len(sub.GetFiles()))}}), nil
}

func (f *fakeConductor) Events(_ context.Context, r *connect.Request[messages.EventsRequest], out *connect.ServerStream[messages.Event]) error {
	for i, e := range []*messages.Event{
		{Kind: "job.status", JobId: "review", Status: "running"},
		{Kind: "sheet.status", JobId: "review", Sheet: 1, Status: "running"},
		{Kind: "sheet.status", JobId: "review", Sheet: 1, Status: "completed"},
		{Kind: "job.status", JobId: "review", Status: "completed"},
	} {
		e.Seq = int64(i + 1)
		if e.Seq <= r.Msg.GetAfterSeq() {
			continue
		}
		if err := out.Send(e); err != nil {
			return err
		}
	}
	return nil // as a conductor that stops: the client redials and resumes
}

func serveFake(socket string) (stop func(), err error) {
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(messagesconnect.NewConductorHandler(&fakeConductor{jobs: map[string]*messages.SubmitJobRequest{}}))
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &p}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return func() { srv.Close(); <-done }, nil
}

// Submit a score (its prompt files travel with it) and wait for the job.
func Example() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Default()) // or client.Clone("night"), client.Remote("b")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sub, err := c.Submit(ctx, client.ScoreFile("testdata/review.toml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := c.Wait(ctx, sub.GetJobId())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.GetJob().GetId(), st.GetJob().GetStatus(), "-", st.GetJob().GetError())
	// Output: review completed - 1 prompt file(s) received
}

// Follow a job's events: the iterator survives a restart of the conductor,
// resuming after the last event it yielded.
func ExampleConductor_Events() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.New(ctx, client.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	for e, err := range c.Events(ctx, client.Filter{Job: "review"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.GetSeq(), e.GetKind(), e.GetSheet(), e.GetStatus())
		if e.EventKind() == messages.EventJobStatus && messages.JobState(e.GetStatus()).Terminal() {
			break
		}
	}
	// Output:
	// 1 job.status 0 running
	// 2 sheet.status 1 running
	// 3 sheet.status 1 completed
	// 4 job.status 0 completed
}

// Errors are the conductor's own: test them with errors.Is.
func ExampleConductor_Job() {
	ctx := context.Background()
	c, err := client.New(ctx, client.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_, err = c.Job(ctx, "nosuch")
	var re *client.RemoteError
	fmt.Println(errors.Is(err, client.ErrJobNotFound), errors.As(err, &re) && re.Hint == "mzt list --all")
	// Output: true true
}

// A conductor that is not running is ErrNotRunning, and like every
// transport failure ErrConnectionLost.
func ExampleNewLocal() {
	c := client.NewLocal(filepath.Join(os.TempDir(), "no-such-conductor.sock"))
	defer c.Close()
	_, err := c.Status(context.Background())
	fmt.Println(errors.Is(err, client.ErrNotRunning), errors.Is(err, client.ErrConnectionLost))
	// Output: true true
}
