package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

// remoteScoresDir holds what remote clients submit: each score with its
// prompt files under a folder of its own, so that relative paths in the score
// (prompt files, the default workspace) resolve on this host, the same way
// after a restart.
const remoteScoresDir = "remote-scores"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// materializeScore writes a remotely submitted score and the files it sent
// under <home>/remote-scores/ and points the request at that copy.
func materializeScore(home, peer string, req *messages.SubmitJobRequest, now time.Time) error {
	base := filepath.Base(req.GetScorePath())
	if base == "." || base == string(filepath.Separator) || base == "" {
		base = "score.toml"
	}
	who := unsafeName.ReplaceAllString(peer, "_")
	if who == "" {
		who = "peer"
	}
	dir := filepath.Join(home, remoteScoresDir, fmt.Sprintf("%s-%s-%d", now.UTC().Format("20060102T150405"), who, now.UnixNano()%1e9))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return storageError("keep the submitted score", err)
	}
	for _, f := range req.GetFiles() {
		rel, err := safeRelative(f.GetPath())
		if err != nil {
			return messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "", "score file %q: %v", f.GetPath(), err)
		}
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return storageError("keep a prompt file", err)
		}
		if err := os.WriteFile(path, f.GetContent(), 0o600); err != nil {
			return storageError("keep a prompt file", err)
		}
	}
	scorePath := filepath.Join(dir, base)
	if err := os.WriteFile(scorePath, req.GetScoreSource(), 0o600); err != nil {
		return storageError("keep the submitted score", err)
	}
	req.ScorePath, req.Files = scorePath, nil
	return nil
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
