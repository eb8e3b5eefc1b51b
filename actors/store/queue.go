package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/mzt-dev/mzt/messages"
)

// Group is a named limit on how many of its jobs run at once.
type Group struct {
	Name     string
	Parallel int
}

// SaveGroup creates or changes a group.
type SaveGroup struct{ Group Group }

func (op *SaveGroup) apply(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO job_groups (name, parallel) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET parallel = excluded.parallel`, op.Group.Name, op.Group.Parallel)
	if err != nil {
		return fmt.Errorf("save group %s: %w", op.Group.Name, err)
	}
	return nil
}

// DeleteGroup removes a group; its jobs keep the name and run unlimited.
type DeleteGroup struct{ Name string }

func (op *DeleteGroup) apply(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM job_groups WHERE name = ?`, op.Name); err != nil {
		return fmt.Errorf("delete group %s: %w", op.Name, err)
	}
	return nil
}

// Groups lists every group by name.
func (db *DB) Groups(ctx context.Context) ([]Group, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, parallel FROM job_groups ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.Name, &g.Parallel); err != nil {
			return nil, fmt.Errorf("read groups: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	return out, nil
}

// JobStates is the status of the latest run of each of ids that the store
// knows; unknown ids are absent.
func (db *DB) JobStates(ctx context.Context, ids []string) (map[string]messages.JobState, error) {
	out := make(map[string]messages.JobState, len(ids))
	for _, id := range ids {
		var st string
		err := db.read.QueryRowContext(ctx, `SELECT status FROM jobs WHERE job_id = ? ORDER BY run DESC LIMIT 1`, id).Scan(&st)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return nil, fmt.Errorf("read status of job %s: %w", id, err)
		default:
			out[id] = messages.JobState(st)
		}
	}
	return out, nil
}

func idsJSON(ids []string) string {
	if len(ids) == 0 {
		return "[]"
	}
	data, _ := json.Marshal(ids) // []string always marshals
	return string(data)
}

func parseIDs(s string) []string {
	var ids []string
	_ = json.Unmarshal([]byte(s), &ids) // a damaged column reads as "waits for nothing"
	if len(ids) == 0 {
		return nil
	}
	return ids
}
