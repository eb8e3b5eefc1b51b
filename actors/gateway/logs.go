package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mzt-dev/mzt/actors/jobs"
	"github.com/mzt-dev/mzt/internal/tryjournal"
	"github.com/mzt-dev/mzt/messages"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// logChunkSize keeps every frame far below the frame limit.
const logChunkSize = 64 << 10

// followPoll is how often a followed log is checked for growth.
const followPoll = 100 * time.Millisecond

func (d *dispatcher) plan(req *messages.LogsRequest) (*jobs.LogPlan, error) {
	res, err := d.Ask(d.deps.Jobs, jobs.NewRunLogPlanRequest(req.GetJobId(), int(req.GetRun())))
	if err != nil {
		return nil, err
	}
	return res.(*jobs.LogPlan), nil
}

// streamLogs sends the captured output of a job's sheets: every sheet's
// latest try (each under a header), or one sheet's chosen try, and with
// follow keeps sending what the sheet writes until it ends.
func (d *dispatcher) streamLogs(ctx context.Context, req *messages.LogsRequest, send func(proto.Message) error) error {
	if req.GetRun() < 0 {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_BAD_REQUEST, "", "runs are numbered from 1, not %d", req.GetRun())
	}
	plan, err := d.plan(req)
	if err != nil {
		return err
	}
	sheets := plan.Sheets
	if n := int(req.GetSheet()); n != 0 {
		if n < 1 || n > len(plan.Sheets) {
			return messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "",
				"job %s has no sheet %d (it has %d)", plan.JobID, n, len(plan.Sheets))
		}
		sheets = plan.Sheets[n-1 : n]
	}
	if req.GetFollow() && req.GetSheet() == 0 && len(sheets) > 1 {
		return d.followAll(ctx, req, plan, send)
	}
	if req.GetFollow() {
		if len(sheets) > 1 {
			sheets = []jobs.LogSheet{pickFollowed(sheets)}
		}
		return d.follow(ctx, req, sheets[0], plan, send)
	}
	headers := len(sheets) > 1
	for _, s := range sheets {
		try := s.Tries
		if a := int(req.GetAttempt()); a != 0 {
			if a > s.Tries {
				return messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "",
					"sheet %d has no try %d (it has %d)", s.Num, a, s.Tries)
			}
			try = a
		}
		if try == 0 {
			if headers {
				if err := send(&messages.LogChunk{Sheet: int64(s.Num), Header: header(s, 0)}); err != nil {
					return err
				}
			}
			continue
		}
		path := pick(plan, s.Num, try, req)
		var hdr string
		if headers {
			hdr = header(s, try)
		}
		if _, err := sendFile(ctx, path, 0, s.Num, try, hdr, send); err != nil {
			return err
		}
	}
	return nil
}

func header(s jobs.LogSheet, try int) string {
	if try == 0 {
		return fmt.Sprintf("==> sheet %d (%s, voice %d): no output yet <==", s.Num, s.Stage, s.Voice)
	}
	return fmt.Sprintf("==> sheet %d (%s, voice %d), try %d <==", s.Num, s.Stage, s.Voice, try)
}

// pickFollowed chooses the sheet to follow when none was named: the first
// running one, else the last one that produced output.
func pickFollowed(sheets []jobs.LogSheet) jobs.LogSheet {
	best := sheets[0]
	for _, s := range sheets {
		if s.Running {
			return s
		}
		if s.Tries > 0 {
			best = s
		}
	}
	return best
}

// pick is the file of one try a logs request shows: stdout, stderr or the
// rendered prompt (made from the run's prompts journal if need be).
func pick(plan *jobs.LogPlan, num, try int, req *messages.LogsRequest) string {
	out, errPath := plan.Paths(num, try)
	switch {
	case req.GetPrompt():
		p := strings.TrimSuffix(out, ".stdout") + ".prompt"
		_ = tryjournal.MaterializePrompt(p) // what is not recorded shows as empty, like any missing log
		return p
	case req.GetStderr():
		return errPath
	}
	return out
}

// sendFile sends path from offset in chunks and returns the new offset. A
// file not created yet is simply empty.
func sendFile(ctx context.Context, path string, offset int64, num, try int, hdr string,
	send func(proto.Message) error) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if hdr != "" {
			return offset, send(&messages.LogChunk{Sheet: int64(num), Attempt: int64(try), Header: hdr})
		}
		return offset, nil
	}
	if err != nil {
		return offset, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	buf := make([]byte, logChunkSize)
	first := true
	emit := func(data []byte) error {
		if len(data) == 0 && !(first && hdr != "") {
			return nil
		}
		chunk := &messages.LogChunk{Sheet: int64(num), Attempt: int64(try), Data: append([]byte(nil), data...)}
		if first {
			chunk.Header = hdr
		}
		first = false
		return send(chunk)
	}
	atLineStart := offset == 0
	if offset > 0 {
		var b [1]byte
		if n, _ := f.ReadAt(b[:], offset-1); n == 1 {
			atLineStart = b[0] == '\n'
		}
	}
	for ctx.Err() == nil {
		start, end, err := dataAt(f, offset)
		if err != nil {
			return offset, fmt.Errorf("read log: %w", err)
		}
		if start > offset {
			// A hole: the log cap dropped the middle of the file.
			marker := fmt.Sprintf("[... %d bytes dropped by the log cap ...]\n", start-offset)
			if !atLineStart {
				marker = "\n" + marker
			}
			if err := emit([]byte(marker)); err != nil {
				return offset, err
			}
			offset, atLineStart = start, true
		}
		if end <= offset {
			return offset, emit(nil) // the end (a header still goes out for an empty file)
		}
		n, rerr := f.ReadAt(buf[:min(int64(len(buf)), end-offset)], offset)
		if n > 0 {
			if err := emit(buf[:n]); err != nil {
				return offset, err
			}
			offset += int64(n)
			atLineStart = buf[n-1] == '\n'
		}
		if rerr == io.EOF && n == 0 {
			return offset, emit(nil)
		}
		if rerr != nil && rerr != io.EOF {
			return offset, fmt.Errorf("read log: %w", rerr)
		}
	}
	return offset, ctx.Err()
}

// dataAt finds the data at or after off in f: [start, end). start > off
// means a hole (the log cap punched it) lies before it; start == end means
// nothing is left. Where the filesystem cannot tell holes, all is data.
func dataAt(f *os.File, off int64) (start, end int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := fi.Size()
	if off >= size {
		return off, off, nil
	}
	fd := int(f.Fd())
	start, err = unix.Seek(fd, off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		return size, size, nil // only a hole up to the end
	case err != nil:
		return off, size, nil // no SEEK_DATA here: read it all
	}
	end, err = unix.Seek(fd, start, unix.SEEK_HOLE)
	if err != nil || end > size {
		end = size
	}
	return start, end, nil
}

// follow streams one sheet's output as it grows, across its retries, until
// the sheet ends or the client leaves.
func (d *dispatcher) follow(ctx context.Context, req *messages.LogsRequest, s jobs.LogSheet, plan *jobs.LogPlan,
	send func(proto.Message) error) error {
	try, offset := max(s.Tries, 1), int64(0)
	if a := int(req.GetAttempt()); a != 0 {
		try = a
	}
	for {
		var err error
		if offset, err = sendFile(ctx, pick(plan, s.Num, try, req), offset, s.Num, try, "", send); err != nil {
			return err
		}
		cur, err := d.plan(req)
		if err != nil {
			return err
		}
		now := cur.Sheets[s.Num-1]
		if now.Tries > try && req.GetAttempt() == 0 {
			// A retry started: finish the old file, then move on.
			if offset, err = sendFile(ctx, pick(plan, s.Num, try, req), offset, s.Num, try, "", send); err != nil {
				return err
			}
			try, offset = now.Tries, 0
			if err := send(&messages.LogChunk{Sheet: int64(s.Num), Attempt: int64(try), Header: header(now, try)}); err != nil {
				return err
			}
			continue
		}
		if now.Ended() || cur.Finished || (req.GetAttempt() != 0 && now.Tries > try) {
			_, err := sendFile(ctx, pick(plan, s.Num, try, req), offset, s.Num, try, "", send)
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followPoll):
		}
	}
}
