package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

var sentinels = []error{ErrNotRunning, ErrJobNotFound, ErrAlreadyActive, ErrRefused, ErrInvalidScore,
	ErrInvalidState, ErrTimeout, ErrUnsupported, ErrProtocol, ErrStorage}

func TestRemoteErrorIs(t *testing.T) {
	want := map[messages.ErrorCode]error{
		messages.ErrorCode_ERROR_CODE_NOT_FOUND:       ErrJobNotFound,
		messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE:  ErrAlreadyActive,
		messages.ErrorCode_ERROR_CODE_REFUSED:         ErrRefused,
		messages.ErrorCode_ERROR_CODE_INVALID_SCORE:   ErrInvalidScore,
		messages.ErrorCode_ERROR_CODE_INVALID_STATE:   ErrInvalidState,
		messages.ErrorCode_ERROR_CODE_TIMEOUT:         ErrTimeout,
		messages.ErrorCode_ERROR_CODE_UNSUPPORTED:     ErrUnsupported,
		messages.ErrorCode_ERROR_CODE_BAD_REQUEST:     ErrProtocol,
		messages.ErrorCode_ERROR_CODE_FRAME_TOO_LARGE: ErrProtocol,
		messages.ErrorCode_ERROR_CODE_STORAGE:         ErrStorage,
	}
	for num := range messages.ErrorCode_name {
		code := messages.ErrorCode(num)
		var err error = fmt.Errorf("wrapped: %w", &RemoteError{Code: code, Message: "m"})
		for _, s := range sentinels {
			if got := errors.Is(err, s); got != (want[code] == s) {
				t.Errorf("errors.Is(RemoteError{%s}, %v) = %v, want %v", code, s, got, !got)
			}
		}
	}
	re := &RemoteError{Code: messages.ErrorCode_ERROR_CODE_NOT_FOUND, Message: "job x not found", Hint: "mzt list"}
	if re.Error() != "job x not found" {
		t.Errorf("Error() = %q", re.Error())
	}
}

func TestDialMissingSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conductor.sock")
	if _, err := Dial(context.Background(), path); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial(missing) = %v, want ErrNotRunning", err)
	}
	if _, err := Call[*messages.HealthResponse](context.Background(), path, &messages.HealthRequest{}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Call(missing) = %v, want ErrNotRunning", err)
	}
}

func shortSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "cl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "c.sock")
}

func TestDialStaleSocket(t *testing.T) {
	path := shortSocket(t)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the file stays; nobody listens
	if _, err := Dial(context.Background(), path); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial(stale socket) = %v, want ErrNotRunning", err)
	}
}

// fakeConductor answers each request with what respond returns (nil: no answer).
func fakeConductor(t *testing.T, respond func(env *messages.Envelope) []*messages.Envelope) string {
	t.Helper()
	path := shortSocket(t)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					var env messages.Envelope
					if err := messages.ReadFrame(r, &env); err != nil {
						return
					}
					for _, out := range respond(&env) {
						if err := messages.WriteFrame(c, out); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return path
}

func TestRequestMapsErrorsAndSkipsStaleAnswers(t *testing.T) {
	path := fakeConductor(t, func(env *messages.Envelope) []*messages.Envelope {
		id := env.GetCorrelationId()
		switch req := messages.Unwrap(env).(type) {
		case *messages.HealthRequest:
			return []*messages.Envelope{
				messages.MustWrap(id+100, &messages.HealthResponse{Version: "stale"}), // someone else's answer
				messages.MustWrap(id, &messages.HealthResponse{Version: "v1"}),
			}
		case *messages.JobStatusRequest:
			return []*messages.Envelope{messages.MustWrap(id, messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND,
				"mzt list", "job %s not found", req.GetJobId()))}
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	health, err := c.Request(ctx, &messages.HealthRequest{})
	if err != nil || health.(*messages.HealthResponse).GetVersion() != "v1" {
		t.Fatalf("health = %v, %v; want the answer with our correlation id", health, err)
	}
	_, err = c.Request(ctx, &messages.JobStatusRequest{JobId: "x"})
	var re *RemoteError
	if !errors.Is(err, ErrJobNotFound) || !errors.As(err, &re) || re.Hint != "mzt list" || re.Message != "job x not found" {
		t.Errorf("job status = %v, want a RemoteError that is ErrJobNotFound with its hint", err)
	}

	// A typed Call of the wrong reply type is a protocol error.
	if _, err := Call[*messages.JobList](ctx, path, &messages.HealthRequest{}); !errors.Is(err, ErrProtocol) {
		t.Errorf("Call with the wrong reply type = %v, want ErrProtocol", err)
	}
}

func TestRequestAfterAbandonedRequest(t *testing.T) {
	path := fakeConductor(t, func(env *messages.Envelope) []*messages.Envelope {
		if _, ok := messages.Unwrap(env).(*messages.HealthRequest); ok {
			return []*messages.Envelope{messages.MustWrap(env.GetCorrelationId(), &messages.HealthResponse{Version: "v1"})}
		}
		return nil // never answers anything else
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.Request(short, &messages.ListJobsRequest{}); !errors.Is(err, ErrTimeout) {
		t.Errorf("unanswered request = %v, want ErrTimeout", err)
	}

	// The abandoned request does not break the connection: its late answer,
	// if any, is skipped, and the next request works.
	health, err := c.Request(ctx, &messages.HealthRequest{})
	if h, _ := health.(*messages.HealthResponse); err != nil || h.GetVersion() != "v1" {
		t.Errorf("request after an abandoned one = %v, %v; want the connection still usable", health, err)
	}
}
