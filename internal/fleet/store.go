package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors a submit or a cancel reports to the user.
var (
	ErrExists   = errors.New("a fleet job with this id is queued or running")
	ErrTooLarge = errors.New("the job is too large for the fleet queue")
	ErrNotFound = errors.New("no such fleet job")
	ErrClaimed  = errors.New("the job is claimed by a member")
)

// store is the fleet's keyspace in etcd.
type store struct{ c *clientv3.Client }

// submit queues a job unless one with its id is queued or running.
func (s store) submit(ctx context.Context, j Job) error {
	j.State = StateQueued
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	bundle, err := json.Marshal(j.Bundle)
	if err != nil {
		return err
	}
	if n := len(data) + len(bundle); n > MaxJobBytes {
		return fmt.Errorf("%w: score and prompt files take %d KiB, at most %d KiB fit (etcd's request limit)",
			ErrTooLarge, n/1024, MaxJobBytes/1024)
	}
	k := jobKey(j.ID)
	res, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(data)), clientv3.OpPut(bundleKey(j.ID), string(bundle)), clientv3.OpDelete(doneKey(j.ID))).Commit()
	if err != nil {
		return fmt.Errorf("queue fleet job: %w", err)
	}
	if !res.Succeeded {
		return ErrExists
	}
	return nil
}

// bundle reads a job's score and prompt files.
func (s store) bundle(ctx context.Context, id string) (Bundle, error) {
	res, err := s.c.Get(ctx, bundleKey(id))
	if err != nil {
		return Bundle{}, fmt.Errorf("read fleet job %s: %w", id, err)
	}
	if len(res.Kvs) == 0 {
		return Bundle{}, fmt.Errorf("fleet job %s has no score in etcd", id)
	}
	return decode[Bundle](bundleKey(id), res.Kvs[0].Value)
}

// isSubmit tells whether the queued record of j's id is j's own submit
// (same member, same instant), or its claimed successor.
func (s store) isSubmit(ctx context.Context, j Job) bool {
	res, err := s.c.Get(ctx, jobKey(j.ID))
	if err != nil || len(res.Kvs) == 0 {
		return false
	}
	got, err := decode[Job](jobKey(j.ID), res.Kvs[0].Value)
	return err == nil && got.SubmittedBy == j.SubmittedBy && got.Submitted.Equal(j.Submitted)
}

// queueView is the queue and its claims read at one revision.
type queueView struct {
	rev    int64
	jobs   map[string]candidate
	claims map[string]claimView
}

type claimView struct {
	claimRecord
	rev int64 // create revision: the fencing token
}

func (s store) queue(ctx context.Context) (queueView, error) {
	v := queueView{jobs: map[string]candidate{}, claims: map[string]claimView{}}
	jr, err := s.c.Get(ctx, prefix+"jobs/", clientv3.WithPrefix())
	if err != nil {
		return v, fmt.Errorf("read fleet queue: %w", err)
	}
	v.rev = jr.Header.Revision
	cr, err := s.c.Get(ctx, prefix+"claims/", clientv3.WithPrefix(), clientv3.WithRev(v.rev))
	if err != nil {
		return v, fmt.Errorf("read fleet claims: %w", err)
	}
	for _, kv := range jr.Kvs {
		j, err := decode[Job](string(kv.Key), kv.Value)
		if err != nil {
			continue // a record this version cannot read is nobody's to claim
		}
		v.jobs[j.ID] = candidate{job: j, modRev: kv.ModRevision}
	}
	for _, kv := range cr.Kvs {
		c, err := decode[claimRecord](string(kv.Key), kv.Value)
		if err != nil {
			continue
		}
		v.claims[strings.TrimPrefix(string(kv.Key), prefix+"claims/")] = claimView{claimRecord: c, rev: kv.CreateRevision}
	}
	return v, nil
}

// claim takes a job for member me under lease: one winner, as long as
// nobody holds a claim and the record is the one read. It returns the
// claim's revision (the fencing token) and the job as claimed.
func (s store) claim(ctx context.Context, c candidate, me string, lease clientv3.LeaseID, reason string) (int64, Job, bool, error) {
	j := c.job
	j.State, j.Member, j.Placements, j.Reason = StateRunning, me, j.Placements+1, reason
	j.PriorUSD, j.SpentUSD = j.PriorUSD+j.SpentUSD, 0
	data, err := json.Marshal(j)
	if err != nil {
		return 0, j, false, err
	}
	cl, _ := json.Marshal(claimRecord{Member: me, Lease: int64(lease), At: time.Now().UTC()})
	res, err := s.c.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(claimKey(j.ID)), "=", 0),
		clientv3.Compare(clientv3.ModRevision(jobKey(j.ID)), "=", c.modRev),
	).Then(
		clientv3.OpPut(claimKey(j.ID), string(cl), clientv3.WithLease(lease)),
		clientv3.OpPut(jobKey(j.ID), string(data)),
	).Commit()
	if err != nil {
		return 0, j, false, fmt.Errorf("claim fleet job %s: %w", j.ID, err)
	}
	if !res.Succeeded {
		return 0, j, false, nil
	}
	return res.Header.Revision, j, true, nil
}

// recordSpend writes what the current placement spent, as long as the
// claim is still ours.
func (s store) recordSpend(ctx context.Context, j Job, claimRev int64) error {
	data, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(claimKey(j.ID)), "=", claimRev)).
		Then(clientv3.OpPut(jobKey(j.ID), string(data))).Commit()
	if err != nil {
		return fmt.Errorf("record the spend of fleet job %s: %w", j.ID, err)
	}
	return nil
}

// finish records how an owned job ended, as long as the claim is still ours.
func (s store) finish(ctx context.Context, id string, claimRev int64, d doneRecord, keep clientv3.LeaseID) (bool, error) {
	data, _ := json.Marshal(d)
	res, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(claimKey(id)), "=", claimRev)).
		Then(clientv3.OpDelete(jobKey(id)), clientv3.OpDelete(bundleKey(id)), clientv3.OpDelete(claimKey(id)),
			clientv3.OpPut(doneKey(id), string(data), clientv3.WithLease(keep))).Commit()
	if err != nil {
		return false, fmt.Errorf("finish fleet job %s: %w", id, err)
	}
	return res.Succeeded, nil
}

// cancelQueued ends a job nobody has claimed.
func (s store) cancelQueued(ctx context.Context, id, by string, keep clientv3.LeaseID) error {
	data, _ := json.Marshal(doneRecord{ID: id, State: "cancelled", Member: by, Reason: "cancelled while queued", Finished: time.Now().UTC()})
	res, err := s.c.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(claimKey(id)), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(jobKey(id)), ">", 0),
	).Then(clientv3.OpDelete(jobKey(id)), clientv3.OpDelete(bundleKey(id)), clientv3.OpPut(doneKey(id), string(data), clientv3.WithLease(keep))).
		Else(clientv3.OpGet(jobKey(id), clientv3.WithCountOnly())).Commit()
	if err != nil {
		return fmt.Errorf("cancel fleet job %s: %w", id, err)
	}
	if res.Succeeded {
		return nil
	}
	if res.Responses[0].GetResponseRange().Count == 0 {
		return ErrNotFound
	}
	return ErrClaimed
}

// where finds the member that runs or ran a job ("" while queued).
func (s store) where(ctx context.Context, id string) (member, state string, err error) {
	res, err := s.c.Txn(ctx).Then(clientv3.OpGet(claimKey(id)), clientv3.OpGet(jobKey(id)), clientv3.OpGet(doneKey(id))).Commit()
	if err != nil {
		return "", "", fmt.Errorf("find fleet job %s: %w", id, err)
	}
	if kvs := res.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		c, err := decode[claimRecord](string(kvs[0].Key), kvs[0].Value)
		return c.Member, StateRunning, err
	}
	if kvs := res.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		j, err := decode[Job](string(kvs[0].Key), kvs[0].Value)
		if j.State == StateRunning && !j.Replace {
			return j.Member, StateRunning, err // its member is away; the job waits for it
		}
		return "", StateQueued, err
	}
	if kvs := res.Responses[2].GetResponseRange().Kvs; len(kvs) > 0 {
		d, err := decode[doneRecord](string(kvs[0].Key), kvs[0].Value)
		return d.Member, d.State, err
	}
	return "", "", ErrNotFound
}

func (s store) members(ctx context.Context) ([]MemberInfo, error) {
	res, err := s.c.Get(ctx, prefix+"members/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read fleet members: %w", err)
	}
	out := make([]MemberInfo, 0, len(res.Kvs))
	for _, kv := range res.Kvs {
		if m, err := decode[MemberInfo](string(kv.Key), kv.Value); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s store) member(ctx context.Context, name string) (MemberInfo, bool, error) {
	res, err := s.c.Get(ctx, memberKey(name))
	if err != nil || len(res.Kvs) == 0 {
		return MemberInfo{}, false, err
	}
	m, err := decode[MemberInfo](string(res.Kvs[0].Key), res.Kvs[0].Value)
	return m, err == nil, err
}

// register writes this member's record under its lease, unless another
// live member holds the name.
func (s store) register(ctx context.Context, info MemberInfo, lease clientv3.LeaseID) error {
	data, _ := json.Marshal(info)
	if _, err := s.c.Put(ctx, memberKey(info.Name), string(data), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("register fleet member: %w", err)
	}
	return nil
}

// claimName refuses a name another live member registered (a second
// conductor configured with the same name would steal its claims).
func (s store) claimName(ctx context.Context, name string, lease clientv3.LeaseID) error {
	k := memberKey(name)
	res, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, "{}", clientv3.WithLease(lease))).
		Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return fmt.Errorf("register fleet member: %w", err)
	}
	if res.Succeeded {
		return nil
	}
	kvs := res.Responses[0].GetResponseRange().Kvs
	if len(kvs) > 0 && clientv3.LeaseID(kvs[0].Lease) != lease {
		return fmt.Errorf("fleet member name %q is held by another live conductor (lease %x)", name, kvs[0].Lease)
	}
	return nil
}

// publishLimit shares a rate limit until it ends.
func (s store) publishLimit(ctx context.Context, l Limit) error {
	ttl := int64(time.Until(l.Until)/time.Second) + 2
	if ttl < 5 {
		ttl = 5
	}
	g, err := s.c.Grant(ctx, ttl)
	if err != nil {
		return fmt.Errorf("share rate limit: %w", err)
	}
	data, _ := json.Marshal(l)
	k := limitKey(l.Account)
	// A later reset wins: an earlier one never shortens a wait.
	_, err = s.c.Txn(ctx).Then(clientv3.OpPut(k, string(data), clientv3.WithLease(g.ID))).Commit()
	if err != nil {
		return fmt.Errorf("share rate limit: %w", err)
	}
	return nil
}

func (s store) limits(ctx context.Context) ([]Limit, error) {
	res, err := s.c.Get(ctx, prefix+"limits/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read shared rate limits: %w", err)
	}
	var out []Limit
	for _, kv := range res.Kvs {
		if l, err := decode[Limit](string(kv.Key), kv.Value); err == nil {
			out = append(out, l)
		}
	}
	return out, nil
}
