package gateway

import (
	"context"
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
	return out
}
