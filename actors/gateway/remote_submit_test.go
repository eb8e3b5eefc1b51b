package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mzt-dev/mzt/messages"
)

func TestMaterializeScoreKeepsFilesInsideItsFolder(t *testing.T) {
	home := t.TempDir()
	req := &messages.SubmitJobRequest{ScorePath: "/client/side/review.toml", ScoreSource: []byte("id = 'x'\n"),
		Files: []*messages.ScoreFile{{Path: "prompts/a.md", Content: []byte("A")}, {Path: "b.md", Content: []byte("B")}}}
	if err := materializeScore(home, "host b/../evil", req, time.Unix(1_800_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(req.GetScorePath())
	if filepath.Dir(dir) != filepath.Join(home, remoteScoresDir) || filepath.Base(req.GetScorePath()) != "review.toml" {
		t.Fatalf("score kept at %s, want <home>/%s/<folder>/review.toml", req.GetScorePath(), remoteScoresDir)
	}
	if strings.ContainsAny(filepath.Base(dir), "/ ") || strings.Contains(filepath.Base(dir), "..") {
		t.Errorf("folder name %q carries the peer's unsafe characters", filepath.Base(dir))
	}
	for path, want := range map[string]string{req.GetScorePath(): "id = 'x'\n", filepath.Join(dir, "prompts/a.md"): "A",
		filepath.Join(dir, "b.md"): "B"} {
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if len(req.GetFiles()) != 0 {
		t.Error("the files stay in the request after they were written")
	}
}

func TestMaterializeScoreRefusesPathsOutside(t *testing.T) {
	for _, bad := range []string{"../x", "a/../../x", "/etc/passwd", "", "a\x00b", ".."} {
		home := t.TempDir()
		req := &messages.SubmitJobRequest{ScorePath: "s.toml", Files: []*messages.ScoreFile{{Path: bad, Content: []byte("x")}}}
		err := materializeScore(home, "p", req, time.Now())
		var me *messages.Error
		if !errors.As(err, &me) || me.GetCode() != messages.ErrorCode_ERROR_CODE_INVALID_SCORE {
			t.Errorf("path %q: got %v, want an invalid-score error", bad, err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(home), "x")); err == nil {
			t.Errorf("path %q wrote outside the home", bad)
		}
	}
}
