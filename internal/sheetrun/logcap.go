package sheetrun

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The instrument writes its output straight into files (opened by the
// wrapper shell, so that output survives a conductor crash), so the
// conductor cannot filter a pipe to cap a log. Instead it watches the size
// and, past the cap, punches a hole in the middle of the file: the blocks go
// back to the filesystem, the head and the tail stay, the apparent size and
// the writer's offset are untouched. Readers skip the hole (SEEK_DATA).

// logCapEvery is how often a running try's logs are measured: at 1 GB/s a
// log overshoots its cap by at most this much time's worth.
const logCapEvery = 100 * time.Millisecond

// logCap keeps each of a try's log files near its cap: the first half of
// the cap from the start, the last half from the end.
type logCap struct {
	limit int64
	files []*cappedFile
}

type cappedFile struct {
	path     string
	f        *os.File
	headEnd  int64 // where the kept head ends (a block boundary)
	punchEnd int64 // the end of the dropped range so far
	err      error // capping failed: stop trying, say so once
}

func newLogCap(limit int64, paths []string) *logCap {
	c := &logCap{limit: limit}
	seen := map[string]bool{}
	for _, p := range paths {
		if p != "" && !seen[p] {
			seen[p] = true
			c.files = append(c.files, &cappedFile{path: p})
		}
	}
	return c
}

// check measures every file once and drops the middle of those past the cap.
func (c *logCap) check() {
	for _, f := range c.files {
		if f.err == nil {
			f.err = f.check(c.limit)
		}
	}
}

func (f *cappedFile) check(limit int64) error {
	if f.f == nil {
		file, err := os.OpenFile(f.path, os.O_WRONLY, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil // not written yet
		}
		if err != nil {
			return err
		}
		f.f = file
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.f.Fd()), &st); err != nil {
		return err
	}
	block := max(int64(st.Blksize), 512)
	if st.Size <= limit {
		return nil
	}
	if f.headEnd == 0 {
		f.headEnd = roundUp(limit/2, block)
		f.punchEnd = f.headEnd
	}
	end := roundDown(st.Size-limit/2, block)
	if end <= f.punchEnd {
		return nil
	}
	// Punching from the head each time also frees what a writer that seeks
	// back may have put into the dropped range.
	if err := unix.Fallocate(int(f.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE,
		f.headEnd, end-f.headEnd); err != nil {
		return fmt.Errorf("punch a hole: %w", err)
	}
	f.punchEnd = end
	return nil
}

// close releases the files and says what the cap did, one note per file.
func (c *logCap) close() []string {
	var notes []string
	for _, f := range c.files {
		if f.f != nil {
			f.f.Close()
		}
		name := logName(f.path)
		switch {
		case f.err != nil:
			notes = append(notes, fmt.Sprintf("%s passed max_log_mb (%d MB) but could not be capped: %v",
				name, c.limit>>20, f.err))
		case f.punchEnd > f.headEnd:
			notes = append(notes, fmt.Sprintf("%s passed max_log_mb (%d MB): %s from its middle dropped, head and tail kept",
				name, c.limit>>20, sizeText(f.punchEnd-f.headEnd)))
		}
	}
	return notes
}

// watch checks every logCapEvery until stop closes, then once more.
func (c *logCap) watch(stop <-chan struct{}) {
	t := time.NewTicker(logCapEvery)
	defer t.Stop()
	for {
		c.check()
		select {
		case <-stop:
			c.check()
			return
		case <-t.C:
		}
	}
}

func logName(path string) string {
	switch {
	case len(path) > 7 && path[len(path)-7:] == ".stdout":
		return "stdout"
	case len(path) > 7 && path[len(path)-7:] == ".stderr":
		return "stderr"
	}
	return path
}

func sizeText(n int64) string {
	if n >= 10<<20 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func roundUp(n, to int64) int64   { return (n + to - 1) / to * to }
func roundDown(n, to int64) int64 { return n / to * to }

// capLogs starts watching spec's capped logs and returns what stops the
// watch (once the process and its group are gone) and adds its notes to res.
func capLogs(spec Spec, res *Result) (stop func()) {
	if spec.LogCap <= 0 || len(spec.CappedLogs) == 0 {
		return func() {}
	}
	end := CapLogs(spec.LogCap, spec.CappedLogs)
	return func() { res.Notes = append(res.Notes, end()...) }
}

// CapLogs keeps each of paths near limit bytes while something writes them
// (e.g. a try adopted after a restart), until the returned function is
// called; that function returns a note per file the cap touched.
func CapLogs(limit int64, paths []string) (stop func() []string) {
	c := newLogCap(limit, paths)
	quit, done := make(chan struct{}), make(chan struct{})
	var failure string
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				failure = fmt.Sprintf("the log cap failed (logs may grow unbounded): %v", r)
			}
		}()
		c.watch(quit)
	}()
	var once sync.Once
	var notes []string
	return func() []string {
		once.Do(func() {
			close(quit)
			<-done
			notes = c.close()
			if failure != "" {
				notes = append(notes, failure)
			}
		})
		return notes
	}
}
