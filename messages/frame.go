package messages

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"google.golang.org/protobuf/encoding/protodelim"
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
	err := protodelim.UnmarshalOptions{MaxSize: MaxFrameSize}.UnmarshalFrom(r, env)
	if err == nil {
		return nil
	}
	var tooLarge *protodelim.SizeTooLargeError
	switch {
	case errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncatedFrame
	case isIOError(err):
		return fmt.Errorf("read frame: %w", err)
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w (%d bytes announced)", ErrFrameTooLarge, tooLarge.Size)
	default:
		// A varint prefix that never terminates also lands here.
		return fmt.Errorf("%w: %v", ErrMalformedFrame, err)
	}
}

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
