package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/mzt-dev/mzt/internal/certs"
	"github.com/mzt-dev/mzt/messages"
)

func TestMaterializeScoreKeepsFilesInsideItsFolder(t *testing.T) {
	home := t.TempDir()
	req := &messages.SubmitJobRequest{ScorePath: "/client/side/review.toml", ScoreSource: []byte("id = 'x'\n"),
		Files: []*messages.ScoreFile{{Path: "prompts/a.md", Content: []byte("A")}, {Path: "b.md", Content: []byte("B")}}}
	dir, err := materializeScore(home, "host b/../evil", req, time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Dir(req.GetScorePath()) {
		t.Fatalf("folder %s, score at %s", dir, req.GetScorePath())
	}
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
		req := &messages.SubmitJobRequest{ScorePath: "s.toml", Files: []*messages.ScoreFile{
			{Path: "fine.md", Content: []byte("ok")}, {Path: bad, Content: []byte("x")}}}
		_, err := materializeScore(home, "p", req, time.Now())
		var me *messages.Error
		if !errors.As(err, &me) || me.GetCode() != messages.ErrorCode_ERROR_CODE_INVALID_SCORE {
			t.Errorf("path %q: got %v, want an invalid-score error", bad, err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(home), "x")); err == nil {
			t.Errorf("path %q wrote outside the home", bad)
		}
		if left, _ := os.ReadDir(filepath.Join(home, remoteScoresDir)); len(left) != 0 {
			t.Errorf("path %q: the files written before it are left behind: %v", bad, left)
		}
	}
}

// A submit the conductor refuses leaves nothing under remote-scores; one
// it accepts, or one that timed out (the job may exist), keeps its copy.
func TestRemoteSubmitRemovesRefusedScores(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer any // what the jobs actor answers; nil: never
		kept   int
	}{
		{"invalid", messages.NewError(messages.ErrorCode_ERROR_CODE_INVALID_SCORE, "", "bad score"), 0},
		{"duplicate", messages.NewError(messages.ErrorCode_ERROR_CODE_ALREADY_ACTIVE, "", "job x is active"), 0},
		{"backpressure", messages.NewError(messages.ErrorCode_ERROR_CODE_REFUSED, "", "memory pressure"), 0},
		{"accepted", &messages.SubmitJobResponse{JobId: "x"}, 1},
		{"timeout", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRemoteHarnessWith(t, func(ctx actor.Context) {
				if _, ok := ctx.Message().(*messages.SubmitJobRequest); ok && tc.answer != nil {
					ctx.Respond(tc.answer)
				}
			})
			h.send(certs.RoleFull, messages.MustWrap(1, &messages.SubmitJobRequest{ScorePath: "s.toml",
				ScoreSource: []byte("x"), Files: []*messages.ScoreFile{{Path: "p.md", Content: []byte("p")}}}))
			h.next(t)
			left, _ := os.ReadDir(filepath.Join(h.home, remoteScoresDir))
			if len(left) != tc.kept {
				t.Fatalf("%d folders left under %s, want %d", len(left), remoteScoresDir, tc.kept)
			}
		})
	}
}
