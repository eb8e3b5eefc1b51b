package fleet

import (
	"context"
	"fmt"
	"time"
)

// Ended is how a fleet job ended, as its last member recorded it: what a
// user asking for a job that never ran anywhere (refused where it was
// claimed) is told.
type Ended struct {
	State, Member, Reason string
	Finished              time.Time
}

// Ended reads the end record of a fleet job (found false: none, or no
// longer kept).
func (m *Member) Ended(ctx context.Context, id string) (e Ended, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, max(m.opTimeout(), userTimeout))
	defer cancel()
	res, err := m.cli.Get(ctx, doneKey(id))
	if err != nil {
		return e, false, fmt.Errorf("read the end of fleet job %s: %w", id, err)
	}
	if len(res.Kvs) == 0 {
		return e, false, nil
	}
	d, err := decode[doneRecord](doneKey(id), res.Kvs[0].Value)
	if err != nil {
		return e, false, err
	}
	return Ended{State: d.State, Member: d.Member, Reason: d.Reason, Finished: d.Finished}, true, nil
}
