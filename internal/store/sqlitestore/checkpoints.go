package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/rowcodec"
)

var _ ao.CheckpointStore = (*Store)(nil)

// SaveFileCheckpoint is the reference's INSERT OR REPLACE INTO checkpoint_files.
func (s *Store) SaveFileCheckpoint(ctx context.Context, c *ao.FileCheckpoint) error {
	args, err := rowcodec.FileCheckpointArgs(c)
	if err != nil {
		return fmt.Errorf("sqlitestore: save file checkpoint: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT OR REPLACE INTO checkpoint_files
    (id, processId, timestamp, ordinate, cron, file, evaluation, cachedAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return fmt.Errorf("sqlitestore: save file checkpoint of %s: %w", c.Evaluation.ProcessID, err)
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
	c, err := rowcodec.FileCheckpoint(file, ev, cached.Int64)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: file checkpoint of %s: %w", processID, err)
	}
	return c, nil
}

// SaveCheckpoint is the reference's INSERT OR IGNORE INTO checkpoints, with
// memory = {"id":"<txid>","encoding":"gzip"}.
func (s *Store) SaveCheckpoint(ctx context.Context, c *ao.Checkpoint) error {
	args, err := rowcodec.CheckpointArgs(c)
	if err != nil {
		return fmt.Errorf("sqlitestore: save checkpoint: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT OR IGNORE INTO checkpoints
    (id, processId, timestamp, ordinate, cron, memory, evaluation) VALUES (?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return fmt.Errorf("sqlitestore: save checkpoint of %s: %w", c.Evaluation.ProcessID, err)
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
	out, err := rowcodec.ScanCheckpoints(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: checkpoints of %s: %w", processID, err)
	}
	return out, nil
}

var _ ao.ModuleBinaryStore = (*Store)(nil)

// SaveModuleBinary records a module binary's hash and size in
// aocu_module_binaries, replacing the module's earlier record.
func (s *Store) SaveModuleBinary(ctx context.Context, b *ao.ModuleBinary) error {
	if b == nil || b.ModuleID == "" {
		return errors.New("sqlitestore: save module binary: empty module id")
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO aocu_module_binaries (id, sha256, size) VALUES (?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size`, b.ModuleID, b.SHA256, b.Size)
	if err != nil {
		return fmt.Errorf("sqlitestore: save module binary %s: %w", b.ModuleID, err)
	}
	return nil
}

// FindModuleBinary returns a module binary's record, or ao.ErrNotFound.
func (s *Store) FindModuleBinary(ctx context.Context, moduleID string) (*ao.ModuleBinary, error) {
	b := &ao.ModuleBinary{ModuleID: moduleID}
	err := s.r.QueryRowContext(ctx, `SELECT sha256, size FROM aocu_module_binaries WHERE id = ?`, moduleID).Scan(&b.SHA256, &b.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: find module binary %s: %w", moduleID, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find module binary %s: %w", moduleID, err)
	}
	return b, nil
}
