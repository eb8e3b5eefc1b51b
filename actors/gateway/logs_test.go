package gateway

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mzt-dev/mzt/messages"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// TestSendFileSkipsTheCapHole: a log whose middle the cap punched out is
// sent as head, one marker line with the dropped size, and tail.
func TestSendFileSkipsTheCapHole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sheet-1.try-1.stdout")
	head := strings.Repeat("head line\n", 1000)   // 10,000 bytes
	middle := strings.Repeat("middle\n", 300_000) // 2,100,000 bytes
	tail := "partial tail start" + strings.Repeat("x", 5000) + "\nlast line\n"
	if err := os.WriteFile(path, []byte(head+middle+tail), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Block-aligned, as the cap punches: from 8 KiB to the last block before the tail.
	holeStart, holeEnd := int64(8192), int64(len(head)+len(middle))/4096*4096
	err = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, holeStart, holeEnd-holeStart)
	f.Close()
	if err != nil {
		t.Skipf("this filesystem cannot punch holes: %v", err)
	}
	if start, err := unix.Seek(int(mustOpen(t, path).Fd()), holeStart, unix.SEEK_DATA); err != nil || start == holeStart {
		t.Skipf("this filesystem does not report holes (SEEK_DATA): start %d, err %v", start, err)
	}

	var got bytes.Buffer
	end, err := sendFile(context.Background(), path, 0, 1, 1, "", func(m proto.Message) error {
		got.Write(m.(*messages.LogChunk).GetData())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	full := head + middle + tail
	if end != int64(len(full)) {
		t.Errorf("sendFile ended at %d, want the file's size %d", end, len(full))
	}
	want := full[:holeStart] + "\n[... " + itoa(holeEnd-holeStart) + " bytes dropped by the log cap ...]\n" + full[holeEnd:]
	if got.String() != want {
		t.Errorf("sent %d bytes, want %d\nhead of what was sent: %q\naround the marker: %q", got.Len(), len(want),
			got.String()[:40], got.String()[holeStart-20:min(int(holeStart)+80, got.Len())])
	}
	if bytes.IndexByte(got.Bytes(), 0) >= 0 {
		t.Error("NUL bytes of the hole were sent")
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
