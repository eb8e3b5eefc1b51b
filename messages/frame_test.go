package messages_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// fill sets every scalar field of m (one level deep) to a non-zero value, so
// a round trip that dropped the body's content would show.
func fill(m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() || fd.IsMap() || fd.ContainingOneof() != nil {
			continue
		}
		var v protoreflect.Value
		switch fd.Kind() {
		case protoreflect.StringKind:
			v = protoreflect.ValueOfString("s-" + string(fd.Name()))
		case protoreflect.BytesKind:
			v = protoreflect.ValueOfBytes([]byte("b"))
		case protoreflect.BoolKind:
			v = protoreflect.ValueOfBool(true)
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
			v = protoreflect.ValueOfInt32(-7)
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			v = protoreflect.ValueOfInt64(-7)
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			v = protoreflect.ValueOfUint32(7)
		case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			v = protoreflect.ValueOfUint64(7)
		case protoreflect.FloatKind:
			v = protoreflect.ValueOfFloat32(1.5)
		case protoreflect.DoubleKind:
			v = protoreflect.ValueOfFloat64(1.5)
		case protoreflect.EnumKind:
			values := fd.Enum().Values()
			v = protoreflect.ValueOfEnum(values.Get(values.Len() - 1).Number())
		default:
			continue
		}
		m.Set(fd, v)
	}
}

func TestWrapUnwrapEveryBody(t *testing.T) {
	oneof := (&messages.Envelope{}).ProtoReflect().Descriptor().Oneofs().ByName("body")
	if oneof == nil || oneof.Fields().Len() == 0 {
		t.Fatal("Envelope has no body oneof")
	}
	for i := range oneof.Fields().Len() {
		fd := oneof.Fields().Get(i)
		t.Run(string(fd.Name()), func(t *testing.T) {
			mt, err := protoregistry.GlobalTypes.FindMessageByName(fd.Message().FullName())
			if err != nil {
				t.Fatal(err)
			}
			for _, filled := range []bool{false, true} {
				body := mt.New()
				if filled {
					fill(body)
				}
				msg := body.Interface()
				env, err := messages.Wrap(42, msg)
				if err != nil {
					t.Fatalf("Wrap(%T): %v", msg, err)
				}
				if env.GetCorrelationId() != 42 || env.GetProtocolVersion() != messages.ProtocolVersion {
					t.Errorf("envelope header %d/%d", env.GetCorrelationId(), env.GetProtocolVersion())
				}
				if got := env.ProtoReflect().WhichOneof(oneof); got != fd {
					t.Fatalf("Wrap put %T in %v, want %s", msg, got, fd.Name())
				}
				if got := messages.Unwrap(env); !proto.Equal(got, msg) {
					t.Errorf("Unwrap = %v, want %v", got, msg)
				}

				// Through the wire.
				var buf bytes.Buffer
				if err := messages.WriteFrame(&buf, env); err != nil {
					t.Fatal(err)
				}
				var back messages.Envelope
				if err := messages.ReadFrame(bufio.NewReader(&buf), &back); err != nil {
					t.Fatal(err)
				}
				got := messages.Unwrap(&back)
				if reflect.TypeOf(got) != reflect.TypeOf(msg) || !proto.Equal(got, msg) {
					t.Errorf("after the wire: %T %v, want %T %v", got, got, msg, msg)
				}
			}
		})
	}
}

func TestWrapRefusesNonBody(t *testing.T) {
	for _, msg := range []proto.Message{&messages.Envelope{}, &messages.JobInfo{}} {
		if env, err := messages.Wrap(1, msg); err == nil {
			t.Errorf("Wrap(%T) = %v, want an error", msg, env)
		}
	}
	if got := messages.Unwrap(&messages.Envelope{CorrelationId: 3}); got != nil {
		t.Errorf("Unwrap of an empty envelope = %v, want nil", got)
	}
}

func varint(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func readFrom(b []byte) error {
	var env messages.Envelope
	return messages.ReadFrame(bufio.NewReader(bytes.NewReader(b)), &env)
}

func TestReadFrameErrors(t *testing.T) {
	valid, err := proto.Marshal(messages.MustWrap(1, &messages.HealthRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	frame := append(varint(uint64(len(valid))), valid...)
	tests := []struct {
		name  string
		bytes []byte
		want  error
	}{
		{"empty stream", nil, io.EOF},
		{"oversized", varint(messages.MaxFrameSize + 1), messages.ErrFrameTooLarge},
		{"huge length", varint(1 << 62), messages.ErrFrameTooLarge},
		{"at the limit but truncated", varint(messages.MaxFrameSize), messages.ErrTruncatedFrame},
		{"truncated body", frame[:len(frame)-1], messages.ErrTruncatedFrame},
		{"length only", varint(5), messages.ErrTruncatedFrame},
		{"truncated length", []byte{0x80}, messages.ErrTruncatedFrame},
		{"unterminated length", bytes.Repeat([]byte{0xff}, 11), messages.ErrMalformedFrame},
		{"garbage body", append(varint(4), 0xff, 0xff, 0xff, 0xff), messages.ErrMalformedFrame},
		{"wrong wire type", append(varint(2), 0x0f, 0x01), messages.ErrMalformedFrame},
	}
	for _, tt := range tests {
		err := readFrom(tt.bytes)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: ReadFrame = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := readFrom(frame); err != nil {
		t.Errorf("valid frame: %v", err)
	}
}

func TestReadFrameSequence(t *testing.T) {
	var buf bytes.Buffer
	for i := range 3 {
		if err := messages.WriteFrame(&buf, messages.MustWrap(uint64(i+1), &messages.HealthRequest{})); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(&buf)
	for i := range 3 {
		var env messages.Envelope
		if err := messages.ReadFrame(r, &env); err != nil || env.GetCorrelationId() != uint64(i+1) {
			t.Fatalf("frame %d: %v %v", i, env.GetCorrelationId(), err)
		}
	}
	var env messages.Envelope
	if err := messages.ReadFrame(r, &env); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF exactly", err)
	}
}

func TestWriteFrameRefusesOversized(t *testing.T) {
	env := messages.MustWrap(1, &messages.LogChunk{Data: make([]byte, messages.MaxFrameSize)})
	var buf bytes.Buffer
	if err := messages.WriteFrame(&buf, env); !errors.Is(err, messages.ErrFrameTooLarge) {
		t.Errorf("WriteFrame of a %d-byte body: %v, want ErrFrameTooLarge", messages.MaxFrameSize, err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written for a refused frame", buf.Len())
	}
	// The version is filled in when missing.
	env = &messages.Envelope{CorrelationId: 2, Body: &messages.Envelope_HealthRequest{HealthRequest: &messages.HealthRequest{}}}
	if err := messages.WriteFrame(&buf, env); err != nil {
		t.Fatal(err)
	}
	var back messages.Envelope
	if err := messages.ReadFrame(bufio.NewReader(&buf), &back); err != nil || back.GetProtocolVersion() != messages.ProtocolVersion {
		t.Errorf("read back version %d, %v", back.GetProtocolVersion(), err)
	}
}

func TestErrorIsAnError(t *testing.T) {
	e := messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "mzt list", "job %s not found", "x")
	var err error = e
	if err.Error() != "job x not found" || e.GetHint() != "mzt list" || e.GetCode() != messages.ErrorCode_ERROR_CODE_NOT_FOUND {
		t.Errorf("NewError = %v", e)
	}
}

func FuzzReadFrame(f *testing.F) {
	for _, env := range []*messages.Envelope{
		messages.MustWrap(1, &messages.HealthRequest{}),
		messages.MustWrap(2, &messages.LogsRequest{JobId: "j", Follow: true}),
		messages.MustWrap(3, messages.NewError(messages.ErrorCode_ERROR_CODE_TIMEOUT, "hint", "msg")),
	} {
		var buf bytes.Buffer
		messages.WriteFrame(&buf, env)
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()/2])
		f.Add(append(buf.Bytes(), buf.Bytes()...))
	}
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Add(varint(messages.MaxFrameSize + 1))
	f.Add(bytes.Repeat([]byte{0xff}, 11))
	f.Add(append(varint(4), 0xff, 0xff, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 64 {
			var env messages.Envelope
			err := messages.ReadFrame(r, &env)
			if err == nil {
				_ = messages.Unwrap(&env)
				if _, err := proto.Marshal(&env); err != nil {
					t.Fatalf("a decoded envelope does not marshal: %v", err)
				}
				continue
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, messages.ErrTruncatedFrame) &&
				!errors.Is(err, messages.ErrMalformedFrame) && !errors.Is(err, messages.ErrFrameTooLarge) {
				t.Fatalf("ReadFrame returned an error of no known kind: %v", err)
			}
			return
		}
	})
}

// A frame that announces 16 MiB and sends a few bytes costs a few bytes:
// the body grows as it arrives.
func TestReadFrameAllocatesWhatArrives(t *testing.T) {
	half := append(varint(messages.MaxFrameSize), make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := readFrom(half)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, messages.ErrTruncatedFrame) {
		t.Fatalf("ReadFrame = %v, want truncated", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("reading 100 bytes of an announced 16 MiB frame allocated %d bytes", got)
	}
}

func TestFrameBudget(t *testing.T) {
	frameOf := func(n int) []byte {
		b, err := proto.Marshal(messages.MustWrap(1, &messages.LogChunk{Data: make([]byte, n)}))
		if err != nil {
			t.Fatal(err)
		}
		return append(varint(uint64(len(b))), b...)
	}
	budget := messages.NewFrameBudget(1 << 20)
	read := func(b []byte, started *bool) error {
		var env messages.Envelope
		fr := messages.FrameReader{Budget: budget, Started: func() { *started = true }}
		return fr.Read(bufio.NewReader(bytes.NewReader(b)), &env)
	}
	for _, tc := range []struct {
		name string
		size int
		want error
	}{
		{"small", 1000, nil},
		{"within the budget", 900 << 10, nil},
		{"beyond the budget", 2 << 20, messages.ErrFrameBudget},
		{"within again", 1 << 19, nil},
	} {
		started := false
		if err := read(frameOf(tc.size), &started); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if !started {
			t.Errorf("%s: Started not called", tc.name)
		}
		if budget.InUse() != 0 {
			t.Errorf("%s: %d bytes of budget still held", tc.name, budget.InUse())
		}
	}
	// With no budget left, small frames are still read, large ones refused:
	// the frames of every day never wait for someone else's big ones.
	full := messages.NewFrameBudget(0)
	var env messages.Envelope
	if err := (messages.FrameReader{Budget: full}).Read(bufio.NewReader(bytes.NewReader(frameOf(100))), &env); err != nil {
		t.Errorf("a small frame with no budget left: %v", err)
	}
	if err := (messages.FrameReader{Budget: full}).Read(bufio.NewReader(bytes.NewReader(frameOf(messages.FreeFrameBytes+1))), &env); !errors.Is(err, messages.ErrFrameBudget) {
		t.Errorf("a large frame with no budget left: %v", err)
	}
}
