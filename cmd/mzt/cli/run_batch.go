package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mzt-dev/mzt/client"
	"github.com/mzt-dev/mzt/messages"
)

// Bounds of `mzt run -`: what stdin may make the CLI read and submit.
const (
	maxBatchScores = 10000
	maxBatchLine   = 4096
)

// runBatch submits several scores over one connection, one line each:
// "submitted job ID" on stdout, or the refusal on stderr; exit 1 if any
// was refused, after trying every one.
func (c *RunCmd) runBatch(g *Globals) error {
	if c.Wait || c.JSON || c.ID != "" {
		return failf(exitUsage, "submit the scores one mzt run at a time", "--wait, --json and --id take one score")
	}
	if c.Rerun.FromStage != "" || c.Rerun.OnlyStage != "" {
		return failf(exitUsage, "re-run one score at a time", "--from-stage and --only-stage take one score")
	}
	paths, err := batchPaths(c.Scores, os.Stdin)
	if err != nil {
		return err
	}
	conn, err := g.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	refused := 0
	for i, path := range paths {
		if g.ctx.Err() != nil {
			return failf(exitFailed, "", "interrupted after %d of %d scores", i, len(paths))
		}
		id, err := c.submit(g, conn, path)
		if err != nil {
			refused++
			reportLine(g, path, err)
			// A conductor that went away refuses the rest the same way.
			if errors.Is(err, client.ErrNotRunning) {
				return &cliError{code: exitFailed}
			}
			continue
		}
		g.printf("submitted job %s\n", id)
	}
	if refused > 0 {
		return failf(exitFailed, "", "%d of %d scores refused", refused, len(paths))
	}
	return nil
}

// submit checks one score and submits it over conn.
func (c *RunCmd) submit(g *Globals, conn client.Conn, path string) (string, error) {
	sc, err := loadScore(g, path, "")
	if err != nil {
		return "", err
	}
	req := &messages.SubmitJobRequest{ScorePath: sc.Path, ScoreSource: sc.Source, ClientCwd: cwd(),
		Priority: c.Priority, Group: c.Group, After: dedupe(c.After), AfterAny: c.AfterAny, Fleet: c.Fleet || sc.Fleet}
	if g.Remote != "" || req.Fleet {
		if req.Files, err = promptFiles(sc); err != nil {
			return "", err
		}
	}
	resp, err := client.RequestAs[*messages.SubmitJobResponse](g.ctx, conn, req)
	if errors.Is(err, client.ErrAlreadyActive) {
		return "", failf(exitFailed, "", "job %s is already active", sc.ID)
	}
	if err != nil {
		return "", err
	}
	return resp.GetJobId(), nil
}

// reportLine says on stderr, on one line, why the score at path was refused.
func reportLine(g *Globals, path string, err error) {
	msg := err.Error()
	var re *client.RemoteError
	if errors.As(err, &re) {
		msg = re.Message
	}
	if errors.Is(err, client.ErrNotRunning) {
		msg = "conductor is not running"
	}
	fmt.Fprintf(g.env.Stderr, "Error: %s: %s\n", path, strings.ReplaceAll(msg, "\n", " "))
}

// batchPaths are the score paths of the command line, "-" standing for the
// lines of stdin (blank ones skipped), bounded in number and length.
func batchPaths(args []string, stdin io.Reader) ([]string, error) {
	var paths []string
	add := func(p string) error {
		if len(paths) >= maxBatchScores {
			return failf(exitUsage, "split the list", "more than %d scores in one mzt run", maxBatchScores)
		}
		paths = append(paths, p)
		return nil
	}
	readStdin := false
	for _, a := range args {
		if a != "-" {
			if err := add(a); err != nil {
				return nil, err
			}
			continue
		}
		if readStdin {
			return nil, failf(exitUsage, "", "- (stdin) given twice")
		}
		readStdin = true
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 0, 1024), maxBatchLine)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				if err := add(line); err != nil {
					return nil, err
				}
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return nil, failf(exitUsage, "", "a path on stdin is longer than %d bytes", maxBatchLine)
			}
			return nil, fmt.Errorf("read score paths from stdin: %w", err)
		}
	}
	if len(paths) == 0 {
		return nil, failf(exitUsage, "echo score.toml | mzt run -", "no score paths on stdin")
	}
	return paths, nil
}
