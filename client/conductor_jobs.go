package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
	"github.com/pelletier/go-toml/v2"
)

// Score is a score ready to submit: its source and the prompt files it
// names, so that a conductor on another host needs nothing from this disk.
type Score struct {
	path   string
	source []byte
	files  []*messages.ScoreFile
	err    error
}

// ScoreFile reads the score at path and the prompt files it names (each
// must be inside the score's folder: that is all that travels with it).
func ScoreFile(path string) Score {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Score{err: fmt.Errorf("score %s: %w", path, err)}
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return Score{err: fmt.Errorf("read score: %w", err)}
	}
	files, err := promptFilesOf(abs, src)
	return Score{path: abs, source: src, files: files, err: err}
}

// maxPromptFiles bounds what one score can make the client read and send.
const maxPromptFiles = 256

func promptFilesOf(path string, src []byte) ([]*messages.ScoreFile, error) {
	var names struct {
		Stage []struct {
			PromptFile string `toml:"prompt_file"`
		} `toml:"stage"`
	}
	if err := toml.Unmarshal(src, &names); err != nil {
		return nil, fmt.Errorf("score %s: %w", path, err)
	}
	var files []*messages.ScoreFile
	seen := map[string]bool{}
	for _, st := range names.Stage {
		p := st.PromptFile
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		clean := filepath.Clean(p)
		if filepath.IsAbs(p) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("score %s: prompt_file %s is outside the score's folder, which is all that is sent", path, p)
		}
		if len(files) == maxPromptFiles {
			return nil, fmt.Errorf("score %s names more than %d prompt files", path, maxPromptFiles)
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(path), clean))
		if err != nil {
			return nil, fmt.Errorf("score %s: %w", path, err)
		}
		files = append(files, &messages.ScoreFile{Path: clean, Content: data})
	}
	return files, nil
}

// SubmitOption changes a submission.
type SubmitOption func(*messages.SubmitJobRequest)

// WithID runs the job under id instead of the score's.
func WithID(id string) SubmitOption {
	return func(r *messages.SubmitJobRequest) { r.JobId = id }
}

// Submit runs a score.
func (c *Conductor) Submit(ctx context.Context, s Score, opts ...SubmitOption) (*messages.SubmitJobResponse, error) {
	if s.err != nil {
		return nil, s.err
	}
	req := &messages.SubmitJobRequest{ScorePath: s.path, ScoreSource: s.source, Files: s.files}
	if cwd, err := os.Getwd(); err == nil {
		req.ClientCwd = cwd
	}
	for _, o := range opts {
		o(req)
	}
	ctx, cancel := c.bounded(ctx)
	defer cancel()
	res, err := c.rpc.Submit(ctx, connect.NewRequest(req))
	return msgOf(res, c.fail(ctx, err))
}

// Filter selects the events Events follows.
type Filter struct {
	Job      string // "" = every job, and the conductor's own events
	AfterSeq int64  // start after this seq; 0 = the newest stored, then new ones
}

// Reconnect backoff of Events.
const (
	firstRedial = 100 * time.Millisecond
	maxRedial   = 5 * time.Second
)

// Events follows the conductor's events. A lost connection (a restart, a
// kill -9, a network cut) is redialled with backoff and the stream resumes
// after the last seq it yielded, so each stored event is yielded once, in
// order. It ends when ctx ends (without an error) or on an error that
// retrying cannot fix (an unknown job, a refused certificate), which it
// yields last.
func (c *Conductor) Events(ctx context.Context, f Filter) iter.Seq2[*messages.Event, error] {
	return func(yield func(*messages.Event, error) bool) {
		last := f.AfterSeq
		wait := firstRedial
		for ctx.Err() == nil {
			got, err := c.followOnce(ctx, f.Job, last, func(e *messages.Event) bool {
				last = e.GetSeq()
				return yield(e, nil)
			})
			if errors.Is(err, errStop) || ctx.Err() != nil {
				return
			}
			if err != nil && !errors.Is(err, ErrConnectionLost) && !errors.Is(err, errResume) {
				yield(nil, err)
				return
			}
			if got {
				wait = firstRedial
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, maxRedial)
		}
	}
}

// errResume ends one stream to resume it: the conductor dropped events for
// this reader (it read too slowly), and they are all in its store.
var errResume = errors.New("resume after a gap")

// followOnce runs one Events stream; got reports whether it yielded anything.
func (c *Conductor) followOnce(ctx context.Context, job string, after int64, yield func(*messages.Event) bool) (got bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.Events(ctx, connect.NewRequest(&messages.EventsRequest{JobId: job, Follow: true, AfterSeq: after}))
	if err != nil {
		return false, c.fail(ctx, err)
	}
	defer stream.Close()
	for stream.Receive() {
		e := stream.Msg()
		if e.EventKind() == messages.EventEventsDropped { // fetch what was missed from the store
			return got, errResume
		}
		if e.GetSeq() <= after {
			continue
		}
		after, got = e.GetSeq(), true
		if !yield(e) {
			return got, errStop
		}
	}
	if err := stream.Err(); err != nil {
		return got, c.fail(ctx, err)
	}
	// A follow stream ends when the conductor stops: it will be back.
	return got, &connLost{msg: fmt.Sprintf("the conductor at %s ended the stream", c.where)}
}

// Wait waits until the job is finished and returns it.
func (c *Conductor) Wait(ctx context.Context, id string) (*messages.JobStatus, error) {
	st, err := c.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.GetJob().State().Terminal() {
		return st, nil
	}
	for e, err := range c.Events(ctx, Filter{Job: id}) {
		if err != nil {
			return nil, err
		}
		if e.EventKind() != messages.EventJobStatus || !messages.JobState(e.GetStatus()).Terminal() {
			continue
		}
		// The history may hold an earlier run's end: ask the job itself.
		if st, err = c.Job(ctx, id); err != nil || st.GetJob().State().Terminal() {
			return st, err
		}
	}
	return nil, fmt.Errorf("wait for job %s: %w", id, ctx.Err())
}
