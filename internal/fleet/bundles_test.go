package fleet

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/mzt-dev/mzt/messages"
	"github.com/mzt-dev/mzt/messages/messagesconnect"
)

func TestPlaceBundleKeepsWhatEtcdCannotHold(t *testing.T) {
	dir := t.TempDir()
	m := &Member{opts: Options{Name: "m1", Address: "127.0.0.1:7400", Dir: dir}}
	small := Job{ID: "small", Bundle: Bundle{Source: []byte("x")}}
	got, err := m.placeBundle(small)
	if err != nil || got.Blob != "" || got.Bundle.Blob != nil || string(got.Source) != "x" {
		t.Fatalf("a small bundle must stay in etcd: %+v, %v", got, err)
	}

	big := Job{ID: "big", Bundle: Bundle{Source: []byte("s"), Files: []File{{Path: "p.md", Content: bytes.Repeat([]byte("y"), 2<<20)}}}}
	got, err = m.placeBundle(big)
	if err != nil {
		t.Fatal(err)
	}
	ref := got.Bundle.Blob
	if ref == nil || got.Source != nil || got.Files != nil || ref.Digest != got.Blob || ref.Member != "m1" || ref.Address != "127.0.0.1:7400" {
		t.Fatalf("a big bundle must become a reference: %+v", got)
	}
	data, err := m.blobStore().read(*ref)
	if err != nil {
		t.Fatal(err)
	}
	var back Bundle
	if back, err = decode[Bundle]("t", data); err != nil || len(back.Files) != 1 || len(back.Files[0].Content) != 2<<20 {
		t.Fatalf("the kept bundle is not the submitted one: %v", err)
	}

	noAddr := &Member{opts: Options{Name: "m2", Dir: t.TempDir()}}
	if _, err := noAddr.placeBundle(big); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "[api] listen") {
		t.Errorf("a member others cannot fetch from must refuse a big bundle: %v", err)
	}
}

func TestBundlePlace(t *testing.T) {
	cases := []struct {
		bundle, rec int
		served      bool
		inEtcd      bool
		refused     string
	}{
		{1000, 200, false, true, ""},
		{MaxJobBytes - 200, 200, false, true, ""},
		{MaxJobBytes - 199, 200, true, false, ""},
		{MaxJobBytes - 199, 200, false, false, "[api] listen"},
		{MaxBundleBytes, 200, true, false, ""},
		{MaxBundleBytes + 1, 200, true, false, "at most 64 MiB"},
	}
	for _, tc := range cases {
		inEtcd, err := bundlePlace(tc.bundle, tc.rec, tc.served)
		if tc.refused != "" {
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("%+v: err = %v, want a refusal naming %q", tc, err, tc.refused)
			}
			continue
		}
		if err != nil || inEtcd != tc.inEtcd {
			t.Errorf("%+v: inEtcd = %v, %v", tc, inEtcd, err)
		}
	}
}

func TestBlobsRefuseBadNamesAndSweepUnnamed(t *testing.T) {
	b := blobs{dir: t.TempDir()}
	for _, d := range []string{"../x", "", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		if _, _, err := b.open(d); !errors.Is(err, ErrBlobNotFound) {
			t.Errorf("open(%q) = %v, want not found", d, err)
		}
	}
	kept, err := b.put([]byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	gone, err := b.put([]byte("gone"))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := b.put([]byte("fresh"))
	if err != nil {
		t.Fatal(err)
	}
	// A damaged copy is replaced by the next put of the same bytes.
	if err := os.WriteFile(filepath.Join(b.dir, kept), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.put([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	if data, err := b.read(BlobRef{Digest: kept, Size: 4}); err != nil || string(data) != "kept" {
		t.Fatalf("a damaged blob must be replaced by the next put: %q, %v", data, err)
	}
	old := time.Now().Add(-2 * blobGrace)
	for _, d := range []string{kept, gone} {
		if err := os.Chtimes(filepath.Join(b.dir, d), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.sweep(map[string]bool{kept: true}, time.Now(), blobGrace); n != 1 {
		t.Errorf("sweep removed %d, want 1 (the unnamed one past its grace)", n)
	}
	for d, want := range map[string]bool{kept: true, gone: false, fresh: true} {
		if _, err := os.Stat(filepath.Join(b.dir, d)); (err == nil) != want {
			t.Errorf("blob %s kept: %v, want %v", d[:8], err == nil, want)
		}
	}
}

// bundleServer serves one Bundle stream, as a member would, with what
// serve sends.
type bundleServer struct {
	messagesconnect.UnimplementedConductorHandler
	serve func(out *connect.ServerStream[messages.BundleChunk]) error
}

func (s bundleServer) Bundle(_ context.Context, _ *connect.Request[messages.BundleRequest], out *connect.ServerStream[messages.BundleChunk]) error {
	return s.serve(out)
}

func TestFetchChecksTheBundle(t *testing.T) {
	good := []byte(`{"source":"aGk="}`)
	ref := BlobRef{Digest: digestOf(good), Size: int64(len(good)), Member: "m1"}
	send := func(parts ...[]byte) func(*connect.ServerStream[messages.BundleChunk]) error {
		return func(out *connect.ServerStream[messages.BundleChunk]) error {
			for _, p := range parts {
				if err := out.Send(&messages.BundleChunk{Data: p}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	tampered := append([]byte{}, good...)
	tampered[3] = 'X'
	cases := []struct {
		name  string
		serve func(*connect.ServerStream[messages.BundleChunk]) error
		want  error
	}{
		{"whole, in two chunks", send(good[:5], good[5:]), nil},
		{"tampered", send(tampered), ErrBadBundle},
		{"short", send(good[:4]), ErrBadBundle},
		{"longer than named", send(good, []byte("more")), ErrBadBundle},
		{"gone", func(*connect.ServerStream[messages.BundleChunk]) error {
			return connect.NewError(connect.CodeNotFound, errors.New("no such bundle here"))
		}, ErrBlobNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, h := messagesconnect.NewConductorHandler(bundleServer{serve: tc.serve})
			srv := httptest.NewServer(h)
			defer srv.Close()
			c := messagesconnect.NewConductorClient(http.DefaultClient, srv.URL)
			data, err := fetchFrom(context.Background(), c, ref)
			if tc.want == nil {
				if err != nil || !bytes.Equal(data, good) {
					t.Fatalf("fetch = %q, %v", data, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("fetch error = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := fetchFrom(context.Background(), nil, BlobRef{Digest: "../../etc/passwd", Size: 1}); !errors.Is(err, ErrBadBundle) {
		t.Errorf("a reference with a bad digest must be refused before any request: %v", err)
	}
}

func TestCanFetch(t *testing.T) {
	inline := Job{ID: "a"}
	own := Job{ID: "b", Blob: strings.Repeat("0", 64), SubmittedBy: "m1"}
	other := Job{ID: "c", Blob: strings.Repeat("0", 64), SubmittedBy: "m2"}
	bare := &Member{opts: Options{Name: "m1"}}
	if !bare.canFetch(inline) || !bare.canFetch(own) || bare.canFetch(other) {
		t.Error("without a certificate a member takes inline bundles and its own, not another member's")
	}
	m := &Member{opts: Options{Name: "m1", MemberTLS: func() (*tls.Config, error) { return &tls.Config{}, nil }}}
	if !m.canFetch(other) {
		t.Error("with a certificate another member's bundle is fetched")
	}
	m.holdFetch(other.ID)
	if m.canFetch(other) {
		t.Error("a job whose bundle just failed to come is left alone for a while")
	}
	m.fetchHeld[other.ID] = time.Now().Add(-time.Second)
	if !m.canFetch(other) {
		t.Error("once the hold is over the job is tried again")
	}
}
