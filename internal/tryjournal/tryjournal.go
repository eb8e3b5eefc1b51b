// Package tryjournal keeps the small per-try records of one run (how each
// try exited, the prompt it was given) in one append-only file, the run's
// tries.journal, instead of files of each try's own.
//
// Why: creating a file is the dearest thing a short try does on ext4 (an
// inode and a directory entry: 30 us of CPU, and over 1 ms on a VM whose
// disk has just deleted thousands of files, against a couple of
// microseconds to append). A try of a trivial sheet used to create four
// files and rename one; now it creates two (its stdout and stderr, which
// `mzt logs` reads as files), and its run creates the journal once.
//
// A record is a newline, a header line, `#mzt NAME LEN CRC32\n`, then LEN
// bytes and a newline, written by one write(2) on a file opened O_APPEND: writers in
// several processes (a conductor and its supervisors, old and new ones
// across a restart) never interleave. A record cut short by a crash of the
// machine, or garbage after one, is skipped: the reader looks for the next
// header whose length and checksum hold. The last record of a name wins.
//
// Readers still look for the per-try file first where one may exist
// (older conductors and supervisors wrote those); this package only reads
// and writes journals.
package tryjournal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
)

// Name is the journal's file name in a run's log folder. A record is named
// after the per-try file it stands for: sheet-N.try-K.exit (payload "CODE
// ENDED_UNIX_MS") or sheet-N.try-K.prompt (payload the prompt).
const Name = "tries.journal"

const magic = "#mzt "

// maxHeader bounds a header line (a name is a file's base name).
const maxHeader = 512

// Append adds one record to the journal at path (created 0600). The
// record is in the file, for every process to read, when Append returns;
// it is not fsynced (see the callers for why that is enough).
func Append(path, name string, payload []byte) error {
	return AppendRecords(path, []Record{{Name: name, Payload: payload}})
}

// Record is one named record of a journal.
type Record struct {
	Name    string
	Payload []byte
}

// AppendRecords adds recs to the journal at path in one write (a re-run
// carrying thousands of kept prompts over makes one append, not thousands).
func AppendRecords(path string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	size := 0
	for _, r := range recs {
		if r.Name == "" || strings.ContainsAny(r.Name, " \n") {
			return fmt.Errorf("journal record name %q: empty or with a space or newline", r.Name)
		}
		size += len(magic) + len(r.Name) + 26 + len(r.Payload)
	}
	buf := make([]byte, 0, size)
	for _, r := range recs {
		buf = appendRecord(buf, r.Name, r.Payload)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	_, err = f.Write(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("append to journal %s: %w", path, err)
	}
	return nil
}

// appendRecord appends one record to buf. It starts with a newline: a
// record torn by a crash (or by a kill during a large write) ends without
// one, and the next header must still start a line to be found.
func appendRecord(buf []byte, name string, payload []byte) []byte {
	buf = append(buf, '\n')
	buf = append(buf, magic...)
	buf = append(buf, name...)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(len(payload)), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendUint(buf, uint64(crc32.ChecksumIEEE(payload)), 10)
	buf = append(buf, '\n')
	buf = append(buf, payload...)
	return append(buf, '\n')
}

// Find returns the payload of the last record named name; ok is false
// when there is none (or no journal).
func Find(path, name string) (payload []byte, ok bool, err error) {
	err = scan(path, func(n string, p []byte) {
		if n == name {
			payload, ok = p, true
		}
	})
	return payload, ok, err
}

// ReadAll returns the last payload of every name in the journal at path
// (empty, no error, when there is no journal).
func ReadAll(path string) (map[string][]byte, error) {
	return ReadNamed(path, func(string) bool { return true })
}

// ReadNamed returns the last payload of every name in the journal at path
// that want accepts, in one pass.
func ReadNamed(path string, want func(name string) bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := scan(path, func(n string, p []byte) {
		if want(n) {
			out[n] = p
		}
	})
	return out, err
}

// scan calls fn for every sound record, in order.
func scan(path string, fn func(name string, payload []byte)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat journal: %w", err)
	}
	size := fi.Size()
	r := bufio.NewReader(f)
	var off int64 // of r's next byte in the file
	for {
		line, err := readLine(r)
		off += int64(len(line))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		name, n, sum, ok := parseHeader(line)
		if !ok || off+n+1 > size {
			continue // not a header (the rest of a torn record): look for the next
		}
		// The checksum and the closing newline are checked before the
		// record counts, so a header left by a torn write cannot swallow
		// the records after it: they are found line by line.
		b := make([]byte, n+1)
		if _, err := f.ReadAt(b, off); err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		if b[n] != '\n' || crc32.ChecksumIEEE(b[:n]) != sum {
			continue
		}
		fn(name, b[:n])
		off += n + 1
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("read journal: %w", err)
		}
		r.Reset(f)
	}
}

// readLine reads up to and including the next newline; a line longer than
// maxHeader is returned cut (it is no header) and the rest read as lines.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, nil
			}
			return line, err
		}
		line = append(line, b)
		if b == '\n' || len(line) > maxHeader {
			return line, nil
		}
	}
}

func parseHeader(line []byte) (name string, n int64, sum uint32, ok bool) {
	if !bytes.HasPrefix(line, []byte(magic)) || !bytes.HasSuffix(line, []byte("\n")) {
		return "", 0, 0, false
	}
	fields := strings.Fields(string(line[len(magic):]))
	if len(fields) != 3 {
		return "", 0, 0, false
	}
	n, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || n < 0 {
		return "", 0, 0, false
	}
	s, err := strconv.ParseUint(fields[2], 10, 32)
	if err != nil {
		return "", 0, 0, false
	}
	return fields[0], n, uint32(s), true
}
