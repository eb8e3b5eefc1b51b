package messages

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ProtocolVersion is carried in every Envelope so that a CLI and a conductor of
// different builds notice the skew instead of misreading each other.
const ProtocolVersion = 1

// MaxFrameSize bounds one frame on the wire. A larger frame is refused before
// its body is read, so a hostile or broken peer cannot make us allocate it.
const MaxFrameSize = 16 << 20

var (
	// ErrFrameTooLarge means the length prefix announced more than MaxFrameSize.
	ErrFrameTooLarge = errors.New("frame larger than 16 MiB")
	// ErrMalformedFrame means the frame's bytes are not a valid Envelope.
	ErrMalformedFrame = errors.New("malformed frame")
	// ErrTruncatedFrame means the peer closed the connection in the middle of a frame.
	ErrTruncatedFrame = errors.New("truncated frame")
)

// ReadFrame reads one length-delimited Envelope. It returns io.EOF only when the
// stream ends cleanly between frames.
func ReadFrame(r *bufio.Reader, env *Envelope) error {
	return FrameReader{}.Read(r, env)
}

// FrameReader reads frames on behalf of a server. The body of a frame is
// buffered as its bytes arrive, never allocated at the size its length
// prefix announces: a peer that announces 16 MiB and sends little costs
// little. Bodies larger than FreeFrameBytes draw on Budget, shared by every
// connection of a server, so that many peers sending big frames at once
// cannot take more than the budget between them.
type FrameReader struct {
	Budget *FrameBudget // nil: no bound beyond MaxFrameSize
	// Started, when set, is called once the first byte of a frame has
	// arrived: the moment a server stops waiting for a request and starts
	// bounding how long the rest may take.
	Started func()
}

// FreeFrameBytes is the body size up to which a frame is read without
// budget: the requests of every day (a health check, a status, a score of
// a few pages) never wait for anyone else's large frames.
const FreeFrameBytes = 16 << 10

// firstChunk is the first buffer of a body larger than it; the buffer then
// doubles, each time taking budget for what it adds.
const firstChunk = 64 << 10

// Read reads one frame into env; see ReadFrame.
func (fr FrameReader) Read(r *bufio.Reader, env *Envelope) error {
	if _, err := r.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("read frame: %w", err)
	}
	if fr.Started != nil {
		fr.Started()
	}
	size, err := binary.ReadUvarint(r)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncatedFrame
	case isIOError(err):
		return fmt.Errorf("read frame: %w", err)
	case err != nil: // a varint that never terminates
		return fmt.Errorf("%w: length prefix: %v", ErrMalformedFrame, err)
	case size > MaxFrameSize:
		return fmt.Errorf("%w (%d bytes announced)", ErrFrameTooLarge, size)
	}
	body, held, err := fr.readBody(r, int(size))
	defer fr.Budget.release(held)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(body, env); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedFrame, err)
	}
	return nil
}

// readBody reads size bytes, growing its buffer only as bytes arrive; held
// is the budget it took, to be released by the caller in every case.
func (fr FrameReader) readBody(r io.Reader, size int) (body []byte, held int, err error) {
	take := func(n int) error {
		if size <= FreeFrameBytes || fr.Budget == nil {
			return nil
		}
		if !fr.Budget.acquire(n) {
			return fmt.Errorf("%w (a frame of %d bytes; %d of %d bytes in use)", ErrFrameBudget, size,
				fr.Budget.InUse(), fr.Budget.Limit())
		}
		held += n
		return nil
	}
	first := min(size, firstChunk)
	if err := take(first); err != nil {
		return nil, held, err
	}
	body = make([]byte, 0, first)
	for len(body) < size {
		if len(body) == cap(body) {
			grown := min(size, 2*cap(body))
			if err := take(grown - cap(body)); err != nil {
				return nil, held, err
			}
			body = append(make([]byte, 0, grown), body...)
		}
		n, err := r.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			if len(body) < size {
				return nil, held, ErrTruncatedFrame
			}
		default:
			return nil, held, fmt.Errorf("read frame: %w", err)
		}
	}
	return body, held, nil
}

// ErrFrameBudget means a frame could not be read because the frames being
// read on every connection together already hold the server's budget.
var ErrFrameBudget = errors.New("too many large frames are being read at once")

// FrameBudget bounds the bytes of large frames a server buffers at once,
// across all its connections. It is safe for concurrent use.
type FrameBudget struct {
	limit int64
	mu    sync.Mutex
	used  int64
}

// NewFrameBudget makes a budget of limit bytes.
func NewFrameBudget(limit int64) *FrameBudget { return &FrameBudget{limit: limit} }

func (b *FrameBudget) acquire(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+int64(n) > b.limit {
		return false
	}
	b.used += int64(n)
	return true
}

func (b *FrameBudget) release(n int) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= int64(n)
	b.mu.Unlock()
}

// InUse is how many bytes frames being read hold now.
func (b *FrameBudget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Limit is the budget's size in bytes.
func (b *FrameBudget) Limit() int64 { return b.limit }

// isIOError tells a failing connection (closed, reset, timed out) from a
// peer that sent bytes we cannot decode.
func isIOError(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded)
}

// WriteFrame writes one length-delimited Envelope in a single write (one
// syscall on a socket), refusing to send one the peer would reject.
func WriteFrame(w io.Writer, env *Envelope) error {
	if env.GetProtocolVersion() == 0 {
		env.ProtocolVersion = ProtocolVersion
	}
	size := proto.Size(env)
	if size > MaxFrameSize {
		return fmt.Errorf("%w (%d bytes)", ErrFrameTooLarge, size)
	}
	buf := make([]byte, 0, size+binary.MaxVarintLen64)
	buf = protowire.AppendVarint(buf, uint64(size))
	buf, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, env)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// NewError builds an error body; hint may be empty.
func NewError(code ErrorCode, hint, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Hint: hint}
}

// Error makes *Error usable as a Go error on both sides of the wire.
func (e *Error) Error() string { return e.GetMessage() }
