// Package fleet makes a conductor a member of a fleet that shares one job
// queue in etcd: members register under a lease with their capacity, claim
// queued jobs by transaction (the claim bound to the claimer's lease), give
// back what they lose and publish the rate limits they see.
//
// Membership is our own, on etcd's leases and transactions, rather than
// protoactor's cluster provider: that provider places virtual actors
// (grains) and speaks protoactor remote between members, which has no
// authentication and crashes on unknown messages; what a fleet needs here is
// a queue whose claims die with their member, a fencing token (the claim's
// revision) checked before every sheet, and members reachable over the
// Conductor service with mutual TLS.
package fleet

import (
	"encoding/json"
	"fmt"
	"time"
)

// Keys under the fleet's prefix:
//
//	members/<name>  memberRecord, under the member's lease
//	jobs/<id>       Job without its bundle: a queued or running job (no
//	                lease); every round reads these, so they stay small
//	bundles/<id>    Bundle: the score and its prompt files, read once by
//	                the member that claims the job; over etcd's limit, a
//	                BlobRef to the member that keeps them (blobs.go)
//	claims/<id>     claimRecord, under the claimer's lease: its create
//	                revision is the fencing token
//	done/<id>       doneRecord: how a fleet job ended and where
//	limits/<acct>   limitRecord, under a lease that ends with the limit
const prefix = "/mzt/fleet/"

func memberKey(name string) string { return prefix + "members/" + name }
func jobKey(id string) string      { return prefix + "jobs/" + id }
func claimKey(id string) string    { return prefix + "claims/" + id }
func bundleKey(id string) string   { return prefix + "bundles/" + id }
func doneKey(id string) string     { return prefix + "done/" + id }
func limitKey(acct string) string  { return prefix + "limits/" + acct }

// Job states in etcd.
const (
	StateQueued  = "queued"
	StateRunning = "running"
)

// MaxJobBytes is the largest job record (score, prompt files and metadata):
// etcd refuses requests over 1.5 MiB by default (--max-request-bytes), and
// a claim writes the record again in a transaction with the claim.
const MaxJobBytes = 1536*1024 - 8*1024

// File is a prompt file a score names, relative to the score.
type File struct {
	Path    string `json:"path"`
	Content []byte `json:"content"`
}

// Bundle is what a member needs to run a job: the score and its prompt files.
// In etcd, a bundle over etcd's request limit is only a reference (Blob)
// to the member that keeps it.
type Bundle struct {
	Source []byte   `json:"source"`
	Files  []File   `json:"files,omitempty"`
	Blob   *BlobRef `json:"blob,omitempty"`
}

// Job is a fleet job as the queue holds it. Bundle travels in a key of its
// own (bundles/<id>); the queue's record holds the rest.
type Job struct {
	Bundle      `json:"-"`
	ID          string    `json:"id"`
	Score       string    `json:"score"`                 // the score's file name
	Instruments []string  `json:"instruments,omitempty"` // every member that claims it must have them all
	User        string    `json:"user"`
	Priority    int64     `json:"priority"`
	Submitted   time.Time `json:"submitted"`
	SubmittedBy string    `json:"submitted_by"`
	// Replace: a job whose member is gone is placed again; false waits for it.
	Replace    bool   `json:"replace"`
	State      string `json:"state"`
	Member     string `json:"member,omitempty"` // the member that claimed it last
	Placements int64  `json:"placements"`
	Reason     string `json:"reason,omitempty"`
	// SpentUSD is what the current placement's tries reported (its member
	// writes it as it grows); PriorUSD what earlier placements spent. The
	// job's [run] max_cost_usd counts both.
	SpentUSD float64 `json:"spent_usd,omitempty"`
	PriorUSD float64 `json:"prior_usd,omitempty"`
	// Blob is the digest of the bundle its submitting member keeps when
	// the bundle is too large for etcd: that member keeps it while a job
	// names it.
	Blob string `json:"blob,omitempty"`
}

type claimRecord struct {
	Member string    `json:"member"`
	Lease  int64     `json:"lease"`
	At     time.Time `json:"at"`
}

type doneRecord struct {
	ID       string    `json:"id"`
	State    string    `json:"state"`
	Member   string    `json:"member"`
	Reason   string    `json:"reason,omitempty"`
	Finished time.Time `json:"finished"`
}

// Limit is a rate limit one member saw, shared by every member whose
// instruments use the same account.
type Limit struct {
	Account    string    `json:"account"`
	Instrument string    `json:"instrument"`
	Until      time.Time `json:"until"`
	Member     string    `json:"member"`
}

// MemberInfo is what a member publishes about itself.
type MemberInfo struct {
	Name          string           `json:"name"`
	Address       string           `json:"address"`
	Version       string           `json:"version"`
	PID           int64            `json:"pid"`
	FreeJobs      int64            `json:"free_jobs"`
	FreeSheets    int64            `json:"free_sheets"`
	Pressure      string           `json:"pressure"`
	RunningJobs   int64            `json:"running_jobs"`
	RunningSheets int64            `json:"running_sheets"`
	Instruments   map[string]int64 `json:"instruments"`
	OwnedJobs     int64            `json:"owned_jobs"`
	Updated       time.Time        `json:"updated"`
}

// sameCapacity tells whether publishing b after a would say nothing new.
func sameCapacity(a, b MemberInfo) bool {
	a.Updated, b.Updated = time.Time{}, time.Time{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func decode[T any](key string, data []byte) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("fleet record %s: %w", key, err)
	}
	return v, nil
}
