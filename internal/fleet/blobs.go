package fleet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// MaxBundleBytes bounds a bundle kept outside etcd (its JSON: score and
// prompt files). The submit itself crosses the CLI's socket in one frame of
// at most 16 MiB; this bound holds whatever way a bundle comes in.
const MaxBundleBytes = 64 << 20

// blobGrace is how long, at least, a bundle file nobody's job names yet is
// kept: a submit writes the file first and queues the job in etcd after,
// within its own timeout (sweepBlobs keeps twice that when it is longer).
const blobGrace = 30 * time.Second

// BlobRef is where a bundle too large for etcd is kept: the member that
// took the submit serves it over the Conductor service, named by the
// sha256 of its bytes, which the member that fetches it checks.
type BlobRef struct {
	Digest  string `json:"digest"`
	Size    int64  `json:"size"`
	Member  string `json:"member"`
	Address string `json:"address"`
}

// Errors of the blob store, as a fetching member and the service tell them.
var (
	ErrBlobNotFound = errors.New("no such bundle here")
	// ErrBadBundle: the bundle fetched is not the one the job names (its
	// digest or size differ); wherever it runs, the job cannot get it.
	ErrBadBundle = errors.New("the job's bundle does not match its digest")
)

// blobs is the content-addressed store of bundles this member serves:
// <home>/fleet/blobs/<sha256 hex>.
type blobs struct{ dir string }

func (b blobs) path(digest string) (string, error) {
	if !validDigest(digest) {
		return "", fmt.Errorf("%w: %q is not a sha256 in hex", ErrBlobNotFound, digest)
	}
	return filepath.Join(b.dir, digest), nil
}

func validDigest(d string) bool {
	if len(d) != sha256.Size*2 {
		return false
	}
	for _, c := range d {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// put keeps data under its digest (written to a temporary file, synced,
// then renamed, so a reader never sees half a bundle). The same data kept
// already is only touched, so the grace of a new submit starts again; a
// file under that name with other bytes (damaged on disk) is replaced.
func (b blobs) put(data []byte) (string, error) {
	digest := digestOf(data)
	p, _ := b.path(digest)
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return "", fmt.Errorf("keep fleet bundle: %w", err)
	}
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
		now := time.Now()
		return digest, os.Chtimes(p, now, now)
	}
	f, err := os.CreateTemp(b.dir, ".incoming-*")
	if err != nil {
		return "", fmt.Errorf("keep fleet bundle: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return "", fmt.Errorf("keep fleet bundle: %w", err)
	}
	return digest, nil
}

// open is a kept bundle and its size.
func (b blobs) open(digest string) (io.ReadCloser, int64, error) {
	p, err := b.path(digest)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %s", ErrBlobNotFound, digest)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open fleet bundle: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open fleet bundle: %w", err)
	}
	return f, st.Size(), nil
}

// read is a kept bundle's bytes, checked against ref.
func (b blobs) read(ref BlobRef) ([]byte, error) {
	r, _, err := b.open(ref.Digest)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readChecked(r, ref)
}

// readChecked reads at most ref.Size bytes and checks their digest.
func readChecked(r io.Reader, ref BlobRef) ([]byte, error) {
	if ref.Size < 0 || ref.Size > MaxBundleBytes {
		return nil, fmt.Errorf("%w: it claims %d bytes, at most %d are allowed", ErrBadBundle, ref.Size, MaxBundleBytes)
	}
	data, err := io.ReadAll(io.LimitReader(r, ref.Size+1))
	if err != nil {
		return nil, err
	}
	return data, checkBlob(data, ref)
}

func checkBlob(data []byte, ref BlobRef) error {
	if int64(len(data)) != ref.Size {
		return fmt.Errorf("%w: %d bytes arrived, the job names %d", ErrBadBundle, len(data), ref.Size)
	}
	if got := digestOf(data); got != ref.Digest {
		return fmt.Errorf("%w: sha256 %s, the job names %s", ErrBadBundle, got, ref.Digest)
	}
	return nil
}

// sweep removes the bundles no queued or running job names, once past the
// grace (and leftovers of writes that never finished). It returns how many
// it removed.
func (b blobs) sweep(named map[string]bool, now time.Time, grace time.Duration) int {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if named[e.Name()] {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < grace {
			continue
		}
		if os.Remove(filepath.Join(b.dir, e.Name())) == nil {
			n++
		}
	}
	return n
}
