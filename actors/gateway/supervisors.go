package gateway

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/mzt-dev/mzt/internal/supervisor"
	"github.com/mzt-dev/mzt/messages"
)

// supervisorsAsk bounds asking the home's supervisors for conductor-status.
const supervisorsAsk = time.Second

// supervisorsInfo lists the supervisors whose sockets are in dir, with
// their live tries; own is the one this conductor started.
func supervisorsInfo(dir string, own int) []*messages.SupervisorInfo {
	ctx, cancel := context.WithTimeout(context.Background(), supervisorsAsk)
	defer cancel()
	var out []*messages.SupervisorInfo
	for _, f := range supervisor.Find(ctx, dir) {
		if f.Err != nil {
			out = append(out, &messages.SupervisorInfo{Refused: f.Err.Error()})
			continue
		}
		info := &messages.SupervisorInfo{Pid: int64(f.Hello.PID), Version: f.Hello.Version, Own: f.Hello.PID == own}
		for _, t := range f.Hello.Tries {
			if t.Exit == nil {
				info.Tries++
			}
		}
		out = append(out, info)
	}
	// This conductor's own first, then by PID: a stable panel (socket
	// names sort "10036" before "9884").
	slices.SortStableFunc(out, func(a, b *messages.SupervisorInfo) int {
		if a.GetOwn() != b.GetOwn() {
			if a.GetOwn() {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.GetPid(), b.GetPid())
	})
	return out
}
