package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The daily budget counts the whole fleet: each member writes what its own
// tries spent today under spend/<day>/<member> (after a change, at most once
// a round, so the fleet's total may lag by about one try) and reads the
// others' records. A day's records live two days (their lease), so the keys
// stay bounded by members x 2.

func spendKey(day, member string) string { return prefix + "spend/" + day + "/" + member }

type spendRecord struct {
	USD float64 `json:"usd"`
}

// spendState is what this member last wrote and told its conductor.
type spendState struct {
	day       string
	written   float64
	lease     clientv3.LeaseID // the day's lease for spend records
	others    float64
	othersDay string
}

const spendKeep = 48 * time.Hour

func (m *Member) syncSpend(ctx context.Context) {
	day, own, err := m.opts.Local.SpendToday(ctx)
	if err != nil || day == "" {
		return
	}
	m.mu.Lock()
	st := m.spend
	m.mu.Unlock()
	if st.day != day {
		st = spendState{day: day, written: -1}
	}
	if own != st.written {
		if st.lease == 0 {
			g, err := m.cli.Grant(ctx, int64(spendKeep/time.Second))
			if err != nil {
				m.setErr(err)
				return
			}
			st.lease = g.ID
		}
		data, _ := json.Marshal(spendRecord{USD: own})
		if _, err := m.cli.Put(ctx, spendKey(day, m.opts.Name), string(data), clientv3.WithLease(st.lease)); err != nil {
			m.setErr(fmt.Errorf("share today's spend: %w", err))
			return
		}
		st.written = own
	}
	res, err := m.cli.Get(ctx, prefix+"spend/"+day+"/", clientv3.WithPrefix())
	if err != nil {
		m.setErr(err)
		return
	}
	others := 0.0
	for _, kv := range res.Kvs {
		if strings.HasSuffix(string(kv.Key), "/"+m.opts.Name) {
			continue
		}
		if r, err := decode[spendRecord](string(kv.Key), kv.Value); err == nil && r.USD > 0 {
			others += r.USD
		}
	}
	if others != st.others || st.othersDay != day {
		st.others, st.othersDay = others, day
		m.opts.Local.ApplyFleetSpend(day, others)
	}
	m.mu.Lock()
	m.spend = st
	m.mu.Unlock()
}
