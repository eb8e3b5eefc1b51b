package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
)

// fetchTimeout bounds fetching one bundle from the member that keeps it.
const fetchTimeout = 2 * time.Minute

// fetchRetry is how long a member leaves a job alone after it could not
// fetch the job's bundle (its keeper down or unreachable): giving the claim
// back wakes every member at once, which would otherwise try again at once.
const fetchRetry = 5 * time.Second

func (m *Member) blobStore() blobs { return blobs{dir: filepath.Join(m.opts.Dir, "blobs")} }

// placeBundle leaves a bundle that fits in etcd as it is. A larger one (up
// to MaxBundleBytes) is kept here, under its digest, and etcd gets a
// reference that members with a certificate fetch over the Conductor service.
func (m *Member) placeBundle(j Job) (Job, error) {
	data, err := json.Marshal(j.Bundle)
	if err != nil {
		return j, err
	}
	rec, err := json.Marshal(j)
	if err != nil {
		return j, err
	}
	inEtcd, err := bundlePlace(len(data), len(rec), m.opts.Address != "")
	if err != nil || inEtcd {
		return j, err
	}
	digest, err := m.blobStore().put(data)
	if err != nil {
		return j, err
	}
	j.Bundle = Bundle{Blob: &BlobRef{Digest: digest, Size: int64(len(data)), Member: m.opts.Name, Address: m.opts.Address}}
	j.Blob = digest
	return j, nil
}

// bundlePlace decides where a bundle of bundleLen bytes goes, with a job
// record of recLen: etcd (inEtcd), this member's blob store when others
// can fetch from it (served), or nowhere (ErrTooLarge, saying why).
func bundlePlace(bundleLen, recLen int, served bool) (inEtcd bool, err error) {
	switch n := bundleLen + recLen; {
	case n <= MaxJobBytes:
		return true, nil
	case bundleLen > MaxBundleBytes:
		return false, fmt.Errorf("%w: score and prompt files take %d KiB, at most %d MiB are kept for the fleet",
			ErrTooLarge, bundleLen/1024, MaxBundleBytes>>20)
	case !served:
		return false, fmt.Errorf("%w: score and prompt files take %d KiB, over etcd's request limit (%d KiB), and this member "+
			"serves no Conductor service ([api] listen) for the others to fetch them from", ErrTooLarge, n/1024, MaxJobBytes/1024)
	}
	return false, nil
}

// OpenBundle is a bundle this member keeps, for the Conductor service.
func (m *Member) OpenBundle(digest string) (io.ReadCloser, int64, error) {
	return m.blobStore().open(digest)
}

// canFetch tells whether this member can get the bundle of j: its own, one
// in etcd, or one it has a certificate to fetch and did not just fail to.
func (m *Member) canFetch(j Job) bool {
	if j.Blob == "" || j.SubmittedBy == m.opts.Name {
		return true
	}
	if m.opts.MemberTLS == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	until, held := m.fetchHeld[j.ID]
	if held && time.Now().After(until) {
		delete(m.fetchHeld, j.ID)
		held = false
	}
	return !held
}

// holdFetch leaves job id alone for fetchRetry.
func (m *Member) holdFetch(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fetchHeld == nil {
		m.fetchHeld = map[string]time.Time{}
	}
	m.fetchHeld[id] = time.Now().Add(fetchRetry)
}

// claimedBundle is the score and prompt files of a job just claimed: from
// etcd, or from the member that keeps them. ErrBadBundle and
// ErrBlobNotFound mean the job cannot get them anywhere.
func (m *Member) claimedBundle(ctx context.Context, id string) (Bundle, error) {
	b, err := m.st.bundle(ctx, id)
	if err != nil || b.Blob == nil {
		return b, err
	}
	ref := *b.Blob
	var data []byte
	if ref.Member == m.opts.Name {
		data, err = m.blobStore().read(ref)
	} else {
		data, err = m.fetchBlob(ref)
		if err != nil && !errors.Is(err, ErrBadBundle) && !errors.Is(err, ErrBlobNotFound) {
			m.holdFetch(id)
		}
	}
	if err != nil {
		return Bundle{}, err
	}
	out, err := decode[Bundle]("bundle "+ref.Digest, data)
	if err != nil || out.Blob != nil {
		return Bundle{}, fmt.Errorf("%w: it is no bundle (%v)", ErrBadBundle, err)
	}
	return out, nil
}

// fetchBlob asks the member that keeps a bundle for it, with this member's
// certificate, within fetchTimeout or until the member stops.
func (m *Member) fetchBlob(ref BlobRef) ([]byte, error) {
	switch {
	case m.opts.MemberTLS == nil:
		return nil, errors.New("this member has no certificate to fetch a bundle with ([api] ca/cert/key)")
	case ref.Address == "":
		return nil, fmt.Errorf("member %s gave no address to fetch the bundle from", ref.Member)
	}
	cfg, err := m.opts.MemberTLS()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	c := messagesconnect.NewConductorClient(&http.Client{Transport: tr}, "https://"+ref.Address)
	ctx, cancel := context.WithTimeout(m.life, fetchTimeout)
	defer cancel()
	data, err := fetchFrom(ctx, c, ref)
	if err != nil {
		return nil, fmt.Errorf("fetch the bundle from member %s (%s): %w", ref.Member, ref.Address, err)
	}
	return data, nil
}

// fetchFrom reads a bundle's stream, never more than the size it names,
// and checks its digest.
func fetchFrom(ctx context.Context, c messagesconnect.ConductorClient, ref BlobRef) ([]byte, error) {
	if ref.Size < 0 || ref.Size > MaxBundleBytes || !validDigest(ref.Digest) {
		return nil, fmt.Errorf("%w: it names %d bytes, sha256 %q", ErrBadBundle, ref.Size, ref.Digest)
	}
	s, err := c.Bundle(ctx, connect.NewRequest(&messages.BundleRequest{Digest: ref.Digest}))
	if err != nil {
		return nil, wireBlobErr(err)
	}
	defer s.Close()
	buf := make([]byte, 0, ref.Size)
	for s.Receive() {
		buf = append(buf, s.Msg().GetData()...)
		if int64(len(buf)) > ref.Size {
			return nil, fmt.Errorf("%w: more than the %d bytes it names arrived", ErrBadBundle, ref.Size)
		}
	}
	if err := s.Err(); err != nil {
		return nil, wireBlobErr(err)
	}
	return buf, checkBlob(buf, ref)
}

func wireBlobErr(err error) error {
	if connect.CodeOf(err) == connect.CodeNotFound {
		return fmt.Errorf("%w: %v", ErrBlobNotFound, err)
	}
	return err
}

// sweepBlobs removes the bundles kept here that no queued or running job
// names any more (the job ended, was cancelled, or its submit failed).
func (m *Member) sweepBlobs(view queueView) {
	named := map[string]bool{}
	for _, c := range view.jobs {
		if c.job.Blob != "" {
			named[c.job.Blob] = true
		}
	}
	grace := max(blobGrace, 2*max(m.opTimeout(), userTimeout)) // beyond any submit still in flight
	if n := m.blobStore().sweep(named, time.Now(), grace); n > 0 {
		m.opts.Log.Info("fleet bundles removed: no job names them", "count", n)
	}
}
