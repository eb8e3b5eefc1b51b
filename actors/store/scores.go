package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
)

// Score sources are stored once per content (the scores table, keyed by the
// sha256 of the source) and referenced by runs: a score run again and again
// costs its size once, not once per run.

// scoreHash is the key of a score source.
func scoreHash(source []byte) string {
	sum := sha256.Sum256(source)
	return hex.EncodeToString(sum[:])
}

// putScore stores source unless an identical one is there, returning its key.
func putScore(ctx context.Context, tx *sql.Tx, source []byte) (string, error) {
	h := scoreHash(source)
	if err := execHot(ctx, tx, sqlPutScore, h, source); err != nil {
		return "", fmt.Errorf("save score source: %w", err)
	}
	return h, nil
}

// moveScoreSources is the Go half of the migration that introduced the
// scores table: every run's inline copy moves there, once per content. One
// source is in memory at a time, however many runs there are.
func moveScoreSources(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT run_key FROM jobs WHERE score_source IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("list inline score sources: %w", err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return fmt.Errorf("list inline score sources: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list inline score sources: %w", err)
	}
	for _, k := range keys {
		var source []byte
		if err := tx.QueryRowContext(ctx, `SELECT score_source FROM jobs WHERE run_key = ?`, k).Scan(&source); err != nil {
			return fmt.Errorf("read score source of run %s: %w", k, err)
		}
		h, err := putScore(ctx, tx, source)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET score_hash = ?, score_source = NULL WHERE run_key = ?`,
			h, k); err != nil {
			return fmt.Errorf("point run %s at its score: %w", k, err)
		}
	}
	return nil
}

// dropUnusedScores deletes the sources no run refers to any more.
func dropUnusedScores(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM scores WHERE hash NOT IN (SELECT score_hash FROM jobs)`); err != nil {
		return fmt.Errorf("drop unused score sources: %w", err)
	}
	return nil
}
