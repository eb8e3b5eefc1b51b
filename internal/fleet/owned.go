package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ownedJob is a claim this member holds. It is written to disk before the
// job is submitted here, so that after a crash the member knows which of
// its local jobs are fleet jobs that may have been placed elsewhere since.
type ownedJob struct {
	ClaimRev int64 `json:"claim_rev"`
	Lease    int64 `json:"lease"`
	// verified: etcd confirmed the claim since this member started.
	verified bool
}

// disk keeps the member's lease and owned claims under <home>/fleet.
type disk struct{ dir string }

func (d disk) ownedDir() string { return filepath.Join(d.dir, "owned") }

func (d disk) ownedPath(id string) string {
	return filepath.Join(d.ownedDir(), url.PathEscape(id)+".json")
}

func (d disk) saveOwned(id string, o ownedJob) error {
	if err := os.MkdirAll(d.ownedDir(), 0o700); err != nil {
		return fmt.Errorf("keep fleet claim: %w", err)
	}
	data, _ := json.Marshal(o)
	return writeFileSync(d.ownedPath(id), data)
}

func (d disk) dropOwned(id string) error {
	if err := os.Remove(d.ownedPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("drop fleet claim: %w", err)
	}
	return nil
}

func (d disk) loadOwned() (map[string]*ownedJob, error) {
	out := map[string]*ownedJob{}
	ents, err := os.ReadDir(d.ownedDir())
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read fleet claims: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		id, err := url.PathUnescape(name)
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d.ownedDir(), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read fleet claim: %w", err)
		}
		var o ownedJob
		if json.Unmarshal(data, &o) != nil {
			o = ownedJob{} // unreadable: a claim we cannot prove, so never ours
		}
		out[id] = &o
	}
	return out, nil
}

func (d disk) loadLease() int64 {
	data, err := os.ReadFile(filepath.Join(d.dir, "lease"))
	if err != nil {
		return 0
	}
	id, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 16, 64)
	return id
}

func (d disk) saveLease(id int64) error {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("keep fleet lease: %w", err)
	}
	return writeFileSync(filepath.Join(d.dir, "lease"), []byte(strconv.FormatInt(id, 16)+"\n"))
}

// saveAck keeps when the last renewal of lease was sent. It is written at
// every renewal, so without fsync: it only matters while the host lives.
func (d disk) saveAck(lease int64, sent time.Time) error {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("keep fleet lease renewal: %w", err)
	}
	path := filepath.Join(d.dir, "lease-renewed")
	data := strconv.FormatInt(lease, 16) + " " + strconv.FormatInt(sent.UnixNano(), 10) + "\n"
	if err := os.WriteFile(path+".tmp", []byte(data), 0o600); err != nil {
		return fmt.Errorf("keep fleet lease renewal: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("keep fleet lease renewal: %w", err)
	}
	return nil
}

// loadAck is when the last renewal of lease was sent, as a previous run
// kept it; zero when unknown or kept for another lease.
func (d disk) loadAck(lease int64) time.Time {
	data, err := os.ReadFile(filepath.Join(d.dir, "lease-renewed"))
	if err != nil {
		return time.Time{}
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return time.Time{}
	}
	id, err1 := strconv.ParseInt(f[0], 16, 64)
	ns, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || id != lease {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// writeFileSync replaces a file whole and durably (temp file, fsync, rename).
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
