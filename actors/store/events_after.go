package store

import (
	"context"
	"fmt"

	"github.com/mzt-dev/mzt/messages"
)

// EventsAfter returns up to limit stored events with a seq above after, of
// one job ("" = all), oldest first: one page of a follower's catch-up.
func (db *DB) EventsAfter(ctx context.Context, jobID string, after int64, limit int) ([]*messages.Event, error) {
	q := `SELECT seq, time, kind, job_id, sheet, attempt, stage, status, detail FROM events
		WHERE seq > ? AND (? = '' OR job_id = ?) ORDER BY seq LIMIT ?`
	rows, err := db.read.QueryContext(ctx, q, after, jobID, jobID, limit)
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []*messages.Event
	for rows.Next() {
		e := &messages.Event{}
		if err := rows.Scan(&e.Seq, &e.TimeUnixNano, &e.Kind, &e.JobId, &e.Sheet, &e.Attempt, &e.Stage,
			&e.Status, &e.Detail); err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
