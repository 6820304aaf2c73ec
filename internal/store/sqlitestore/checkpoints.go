package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

var _ ao.CheckpointStore = (*Store)(nil)

func nullCron(c string) any {
	if c == "" {
		return nil
	}
	return c
}

// SaveFileCheckpoint is the reference's INSERT OR REPLACE INTO checkpoint_files.
func (s *Store) SaveFileCheckpoint(ctx context.Context, c *ao.FileCheckpoint) error {
	ev, err := json.Marshal(c.Evaluation)
	if err != nil {
		return fmt.Errorf("sqlitestore: save file checkpoint: %w", err)
	}
	e := c.Evaluation
	_, err = s.w.ExecContext(ctx, `INSERT OR REPLACE INTO checkpoint_files
    (id, processId, timestamp, ordinate, cron, file, evaluation, cachedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID(), e.ProcessID, e.Timestamp, e.Ordinate, nullCron(e.Cron), c.File, string(ev), c.CachedAt)
	if err != nil {
		return fmt.Errorf("sqlitestore: save file checkpoint of %s: %w", e.ProcessID, err)
	}
	return nil
}

// FindFileCheckpoint returns the process's checkpoint_files row.
func (s *Store) FindFileCheckpoint(ctx context.Context, processID string) (*ao.FileCheckpoint, error) {
	var file, ev string
	var cached sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT file, evaluation, cachedAt FROM checkpoint_files WHERE processId = ?`, processID).Scan(&file, &ev, &cached)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: file checkpoint of %s: %w", processID, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: file checkpoint of %s: %w", processID, err)
	}
	c := &ao.FileCheckpoint{File: file, CachedAt: cached.Int64}
	if err := json.Unmarshal([]byte(ev), &c.Evaluation); err != nil {
		return nil, fmt.Errorf("sqlitestore: file checkpoint of %s: evaluation: %w", processID, err)
	}
	return c, nil
}

// SaveCheckpoint is the reference's INSERT OR IGNORE INTO checkpoints, with
// memory = {"id":"<txid>","encoding":"gzip"}.
func (s *Store) SaveCheckpoint(ctx context.Context, c *ao.Checkpoint) error {
	ev, err := json.Marshal(c.Evaluation)
	if err != nil {
		return fmt.Errorf("sqlitestore: save checkpoint: %w", err)
	}
	var mem jsjson.Object
	mem.String("id", c.TxID)
	if c.Encoding != "" {
		mem.String("encoding", c.Encoding)
	}
	e := c.Evaluation
	_, err = s.w.ExecContext(ctx, `INSERT OR IGNORE INTO checkpoints
    (id, processId, timestamp, ordinate, cron, memory, evaluation) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID(), e.ProcessID, e.Timestamp, e.Ordinate, nullCron(e.Cron), string(mem.Bytes()), string(ev))
	if err != nil {
		return fmt.Errorf("sqlitestore: save checkpoint of %s: %w", e.ProcessID, err)
	}
	return nil
}

// Checkpoints is the reference's query: timestamp < before, latest first.
func (s *Store) Checkpoints(ctx context.Context, processID string, before int64, limit int) ([]*ao.Checkpoint, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT memory, evaluation FROM checkpoints
    WHERE processId = ? AND timestamp < ? ORDER BY timestamp DESC LIMIT ?`, processID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: checkpoints of %s: %w", processID, err)
	}
	defer rows.Close()
	var out []*ao.Checkpoint
	for rows.Next() {
		var mem, ev string
		if err := rows.Scan(&mem, &ev); err != nil {
			return nil, fmt.Errorf("sqlitestore: checkpoints of %s: %w", processID, err)
		}
		var m struct{ ID, Encoding string }
		c := &ao.Checkpoint{}
		if json.Unmarshal([]byte(mem), &m) != nil || json.Unmarshal([]byte(ev), &c.Evaluation) != nil {
			continue // a row another writer mangled: skip it, as a missing checkpoint
		}
		c.TxID, c.Encoding = m.ID, m.Encoding
		out = append(out, c)
	}
	return out, rows.Err()
}
