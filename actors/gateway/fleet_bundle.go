package gateway

import (
	"errors"
	"fmt"
	"io"

	"github.com/mzt-dev/mzt/internal/fleet"
	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

// bundleChunk is how much of a bundle one stream item carries.
const bundleChunk = 1 << 20

// sendBundle streams a bundle this member keeps for the fleet to the member
// that claimed its job, which checks it against its digest.
func sendBundle(f Fleet, digest string, send func(proto.Message) error) error {
	r, size, err := f.OpenBundle(digest)
	if errors.Is(err, fleet.ErrBlobNotFound) {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_NOT_FOUND, "", "%v", err)
	}
	if err != nil {
		return messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "%v", err)
	}
	defer r.Close()
	first := true
	for sent := int64(0); first || sent < size; first = false {
		// A fresh buffer each time: a sender may hold the item it was given.
		buf := make([]byte, min(size-sent, bundleChunk))
		n, err := io.ReadFull(r, buf)
		if err != nil && n == 0 && size > 0 {
			return messages.NewError(messages.ErrorCode_ERROR_CODE_STORAGE, "", "read fleet bundle %s: %v", digest, err)
		}
		chunk := &messages.BundleChunk{Data: buf[:n]}
		if first {
			chunk.Size = size
		}
		if err := send(chunk); err != nil {
			return fmt.Errorf("send fleet bundle: %w", err)
		}
		sent += int64(n)
	}
	return nil
}
