package sheetrun

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Validation types of [[stage.validate]].
const (
	CheckFileExists      = "file_exists"
	CheckFileModified    = "file_modified"
	CheckContentContains = "content_contains"
	CheckContentRegex    = "content_regex"
	CheckCommand         = "command"
)

// DefaultCheckTimeout bounds a command validation whose Timeout is 0.
const DefaultCheckTimeout = 60 * time.Second

// checkKillGrace is shorter than a sheet's: a validation is a quick check the sheet is waiting on.
const checkKillGrace = 2 * time.Second

// maxHashSize is the largest file whose content TakeSnapshot hashes; bigger files are compared
// by size and mtime only, so a snapshot never reads gigabytes.
const maxHashSize = 8 << 20

// commandTail is how much of a failed command validation's output its Detail quotes.
const commandTail = 500

// Check is one validation, already template-rendered. A relative Path is relative to the workspace.
type Check struct {
	Type, Path, Pattern, Contains, Run string
	Timeout                            time.Duration // command only; 0 = DefaultCheckTimeout
	// Since, when set, is how old a file may be: a file last modified before
	// it was not produced by this run (or try) and fails the check, so that
	// files left by an earlier run never pass for new work. Zero: any age.
	// It is a file-system time (see FreshnessMark), not a clock reading.
	Since time.Time
	// SinceWhat names the boundary for messages: "run" or "try".
	SinceWhat string
}

// CheckResult says whether one Check passed and, in a few words, why.
type CheckResult struct {
	Type   string
	Passed bool
	Detail string
}

// FileState is what file_modified compares: a file's state before the attempt.
type FileState struct {
	Exists  bool
	IsDir   bool
	Size    int64
	ModTime time.Time
	Hash    string // hex sha256 of the content; "" for directories and files over maxHashSize
}

// Snapshot maps the absolute path of each file_modified check to the file's state.
type Snapshot map[string]FileState

// TakeSnapshot records, before an attempt, the state of every file a file_modified check names.
func TakeSnapshot(workspace string, checks []Check) Snapshot {
	s := Snapshot{}
	for _, c := range checks {
		if c.Type == CheckFileModified && c.Path != "" {
			p := resolve(workspace, c.Path)
			s[p] = fileState(p)
		}
	}
	return s
}

// Validate runs every check, even after one failed, so the user sees all that is wrong.
// before is the snapshot taken before the attempt; a file_modified path missing from it counts
// as not having existed.
func Validate(ctx context.Context, workspace string, env []string, checks []Check, before Snapshot) []CheckResult {
	out := make([]CheckResult, 0, len(checks))
	for _, c := range checks {
		out = append(out, validateOne(ctx, workspace, env, c, before))
	}
	return out
}

func validateOne(ctx context.Context, workspace string, env []string, c Check, before Snapshot) (r CheckResult) {
	r.Type = c.Type
	defer func() {
		if p := recover(); p != nil {
			r.Passed, r.Detail = false, fmt.Sprintf("internal error: %v", p)
		}
	}()
	pass := func(format string, a ...any) CheckResult {
		r.Passed, r.Detail = true, fmt.Sprintf(format, a...)
		return r
	}
	fail := func(format string, a ...any) CheckResult {
		r.Detail = fmt.Sprintf(format, a...)
		return r
	}
	if c.Type != CheckCommand && c.Path == "" {
		return fail("no path given")
	}
	path := resolve(workspace, c.Path)
	if c.Type != CheckCommand && !c.Since.IsZero() {
		if why := stale(path, c); why != "" {
			return fail("%s", why)
		}
	}
	switch c.Type {
	case CheckFileExists:
		st, err := os.Stat(path)
		if err != nil {
			return fail("%s: %s", c.Path, statProblem(err))
		}
		if st.IsDir() {
			return pass("%s exists (directory)", c.Path)
		}
		return pass("%s exists (%d bytes)", c.Path, st.Size())

	case CheckFileModified:
		now := fileState(path)
		if !now.Exists {
			return fail("%s does not exist", c.Path)
		}
		if why := changed(before[path], now); why != "" {
			return pass("%s %s", c.Path, why)
		}
		return fail("%s was not modified by the attempt", c.Path)

	case CheckContentContains:
		if c.Contains == "" {
			return fail("no text given to look for")
		}
		found, err := fileContains(path, []byte(c.Contains))
		switch {
		case err != nil:
			return fail("%s: %s", c.Path, statProblem(err))
		case found:
			return pass("%s contains %s", c.Path, quoteShort(c.Contains))
		}
		return fail("%s does not contain %s", c.Path, quoteShort(c.Contains))

	case CheckContentRegex:
		if c.Pattern == "" {
			return fail("no pattern given")
		}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return fail("invalid pattern %s: %v", quoteShort(c.Pattern), err)
		}
		f, err := os.Open(path)
		if err != nil {
			return fail("%s: %s", c.Path, statProblem(err))
		}
		defer f.Close()
		// MatchReader streams: the file is never loaded whole.
		if re.MatchReader(bufio.NewReaderSize(f, 64<<10)) {
			return pass("%s matches %s", c.Path, quoteShort(c.Pattern))
		}
		return fail("%s does not match %s", c.Path, quoteShort(c.Pattern))

	case CheckCommand:
		return runCommandCheck(ctx, workspace, env, c)
	}
	return fail("unknown validation type %q", c.Type)
}

// runCommandCheck runs `bash -c RUN` through Run, so it gets the same process-group handling as
// a sheet: a timeout kills everything the command started.
func runCommandCheck(ctx context.Context, workspace string, env []string, c Check) CheckResult {
	r := CheckResult{Type: c.Type}
	if strings.TrimSpace(c.Run) == "" {
		r.Detail = "no command given"
		return r
	}
	if err := ctx.Err(); err != nil {
		r.Detail = "not run: canceled"
		return r
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	outFile, err := os.CreateTemp("", "mzt-check-*.log")
	if err != nil {
		r.Detail = fmt.Sprintf("cannot create a file for its output: %v", err)
		return r
	}
	outFile.Close()
	defer os.Remove(outFile.Name())

	res := Run(ctx, Spec{
		Argv:       []string{"bash", "-c", c.Run},
		Dir:        workspace,
		Env:        env,
		Timeout:    timeout,
		KillGrace:  checkKillGrace,
		StdoutPath: outFile.Name(),
		StderrPath: outFile.Name(),
	})
	out := strings.TrimSpace(string(trimPartialRune([]byte(lastN(res.StdoutTail, commandTail)))))
	suffix := ""
	if out != "" {
		suffix = ": " + out
	}
	switch {
	case res.Err != nil:
		r.Detail = fmt.Sprintf("could not run: %v", res.Err)
	case res.TimedOut:
		r.Detail = fmt.Sprintf("timed out after %s%s", timeout, suffix)
	case res.Canceled:
		r.Detail = "canceled" + suffix
	case res.Signal != "":
		r.Detail = fmt.Sprintf("killed by signal (%s)%s", res.Signal, suffix)
	case res.ExitCode != 0:
		r.Detail = fmt.Sprintf("exit code %d%s", res.ExitCode, suffix)
	default:
		r.Passed, r.Detail = true, "exit code 0"
	}
	return r
}

func resolve(workspace, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(workspace, p)
}

func fileState(p string) FileState {
	st, err := os.Stat(p)
	if err != nil {
		return FileState{}
	}
	s := FileState{Exists: true, IsDir: st.IsDir(), Size: st.Size(), ModTime: st.ModTime()}
	if st.Mode().IsRegular() && st.Size() <= maxHashSize {
		s.Hash = hashFile(p)
	}
	return s
}

func hashFile(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	// The limit guards against a file that grew since it was stat'ed.
	if _, err := io.Copy(h, io.LimitReader(f, maxHashSize+1)); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// changed says how now differs from before, or "" if it does not.
func changed(before, now FileState) string {
	switch {
	case !before.Exists:
		return "was created"
	case before.Size != now.Size:
		return "changed size"
	case before.Hash != now.Hash:
		return "changed content" // also catches a same-size rewrite within one mtime tick
	case !before.ModTime.Equal(now.ModTime):
		return "was rewritten (mtime changed)"
	}
	return ""
}

// fileContains searches the file for needle in chunks, carrying the last len(needle)-1 bytes
// over so matches across chunk boundaries are found.
func fileContains(path string, needle []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, max(64<<10, 2*len(needle)))
	keep := 0
	for {
		n, err := f.Read(buf[keep:])
		if n > 0 {
			if bytes.Contains(buf[:keep+n], needle) {
				return true, nil
			}
			carry := min(len(needle)-1, keep+n)
			copy(buf, buf[keep+n-carry:keep+n])
			keep = carry
		}
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

func statProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// quoteShort quotes s for a Detail, cut so one long pattern cannot flood the report.
func quoteShort(s string) string {
	const limit = 60
	if len([]rune(s)) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return strconv.Quote(s)
}

func lastN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
