package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/messages"
)

// remoteScoresDir holds what remote clients submit: each score with its
// prompt files under a folder of its own, so that relative paths in the score
// (prompt files, the default workspace) resolve on this host, the same way
// after a restart.
const remoteScoresDir = "remote-scores"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// serveRemoteSubmit keeps a remotely submitted score on this host (its
// relative paths must mean something here), submits it, and removes the copy
// again when the conductor refuses the job: a refused score is no job's, and
// a peer resubmitting a bad score must not fill the disk. A timeout keeps the
// copy, since the job may have been created all the same.
func serveRemoteSubmit(ctx context.Context, h Handler, root *actor.RootContext, to *actor.PID, id uint64,
	req *messages.SubmitJobRequest, home, peer string, log *slog.Logger) *messages.Envelope {
	files := req.GetFiles()
	dir, err := materializeScore(home, peer, req, time.Now())
	if err != nil {
		return errorEnvelope(id, err)
	}
	if req.GetFleet() {
		// Checked against the copy; the fleet's bundle carries the files.
		req.Files = files
		defer os.RemoveAll(dir)
		return serveRemote(ctx, h, root, to, id, req, log)
	}
	final := serveRemote(ctx, h, root, to, id, req, log)
	if e := final.GetError(); e != nil && e.GetCode() != messages.ErrorCode_ERROR_CODE_TIMEOUT {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("cannot remove a refused remote score", "dir", dir, "err", err)
		}
	}
	return final
}

// materializeScore writes a remotely submitted score and the files it sent
// into a new folder under <home>/remote-scores/, points the request at that
// copy and returns the folder. On error nothing is left behind.
func materializeScore(home, peer string, req *messages.SubmitJobRequest, now time.Time) (dir string, err error) {
	base := filepath.Base(req.GetScorePath())
	if base == "." || base == string(filepath.Separator) || base == "" {
		base = "score.toml"
	}
	who := unsafeName.ReplaceAllString(peer, "_")
	if who == "" {
		who = "peer"
	}
	parent := filepath.Join(home, remoteScoresDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", storageError("keep the submitted score", err)
	}
	// MkdirTemp: two submits from one peer in the same instant get two folders.
	made, err := os.MkdirTemp(parent, fmt.Sprintf("%s-%s-", now.UTC().Format("20060102T150405"), who))
	if err != nil {
		return "", storageError("keep the submitted score", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(made)
		}
	}()
	dir = made
	for _, f := range req.GetFiles() {
		rel, err := safeRelative(f.GetPath())
		if err != nil {
			return "", messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "", "score file %q: %v", f.GetPath(), err)
		}
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return "", storageError("keep a prompt file", err)
		}
		if err := os.WriteFile(path, f.GetContent(), 0o600); err != nil {
			return "", storageError("keep a prompt file", err)
		}
	}
	scorePath := filepath.Join(dir, base)
	if err := os.WriteFile(scorePath, req.GetScoreSource(), 0o600); err != nil {
		return "", storageError("keep the submitted score", err)
	}
	req.ScorePath, req.Files = scorePath, nil
	return dir, nil
}

// safeRelative accepts a path inside the score's folder only.
func safeRelative(p string) (string, error) {
	if p == "" || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("empty or not a path")
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("absolute paths are not sent to another host")
	}
	clean := filepath.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("outside the score's folder")
	}
	return clean, nil
}

func storageError(what string, err error) error {
	return messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "cannot %s: %v", what, err)
}

func errorEnvelope(id uint64, err error) *messages.Envelope {
	e, ok := err.(*messages.Error)
	if !ok {
		e = messages.NewError(messages.ErrorCode_ERROR_CODE_INTERNAL, "", "%v", err)
	}
	return &messages.Envelope{CorrelationId: id, ProtocolVersion: messages.ProtocolVersion,
		Body: &messages.Envelope_Error{Error: e}}
}

// MaterializeScore keeps a score that came from another host (a fleet job
// claimed here) the way a remote submit is kept, and points req at the copy.
func MaterializeScore(home, from string, req *messages.SubmitJobRequest) (string, error) {
	return materializeScore(home, from, req, time.Now())
}
