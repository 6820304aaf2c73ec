package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/rowcodec"
)

var _ ao.CheckpointStore = (*Store)(nil)

// SaveFileCheckpoint is the reference's INSERT OR REPLACE INTO
// checkpoint_files (which its Postgres client cannot run: toOrdinals only
// rewrites INSERT OR IGNORE). SQLite's REPLACE deletes the rows that
// conflict on the primary key id or on the UNIQUE processId, then inserts;
// here, in one transaction, a row with the id under another processId (which
// ids, "<pid>,…", never are) is deleted, and the row is upserted on
// processId, which is atomic against another CU replacing it at once.
func (s *Store) SaveFileCheckpoint(ctx context.Context, c *ao.FileCheckpoint) error {
	args, err := rowcodec.FileCheckpointArgs(c)
	if err != nil {
		return fmt.Errorf("pgstore: save file checkpoint: %w", err)
	}
	e := c.Evaluation
	id := e.ID()
	err = s.inTx(ctx, "save file checkpoint", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM checkpoint_files WHERE id = $1 AND "processId" IS DISTINCT FROM $2;`, id, e.ProcessID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO checkpoint_files
    (id, "processId", timestamp, ordinate, cron, file, evaluation, "cachedAt") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT ("processId") DO UPDATE SET
      id = EXCLUDED.id, timestamp = EXCLUDED.timestamp, ordinate = EXCLUDED.ordinate, cron = EXCLUDED.cron,
      file = EXCLUDED.file, evaluation = EXCLUDED.evaluation, "cachedAt" = EXCLUDED."cachedAt";`,
			args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: save file checkpoint of %s: %w", e.ProcessID, err)
	}
	return nil
}

// FindFileCheckpoint returns the process's checkpoint_files row, or
// ao.ErrNotFound.
func (s *Store) FindFileCheckpoint(ctx context.Context, processID string) (*ao.FileCheckpoint, error) {
	var (
		file, ev string
		cached   *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT file, evaluation, "cachedAt" FROM checkpoint_files WHERE "processId" = $1`, processID).
		Scan(&file, &ev, &cached)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: file checkpoint of %s: %w", processID, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: file checkpoint of %s: %w", processID, err)
	}
	c, err := rowcodec.FileCheckpoint(file, ev, rowcodec.Deref(cached))
	if err != nil {
		return nil, fmt.Errorf("pgstore: file checkpoint of %s: %w", processID, err)
	}
	return c, nil
}

// SaveCheckpoint is the reference's INSERT OR IGNORE INTO checkpoints, with
// memory = {"id":"<txid>","encoding":"gzip"}.
func (s *Store) SaveCheckpoint(ctx context.Context, c *ao.Checkpoint) error {
	args, err := rowcodec.CheckpointArgs(c)
	if err != nil {
		return fmt.Errorf("pgstore: save checkpoint: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO checkpoints
    (id, "processId", timestamp, ordinate, cron, memory, evaluation) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT DO NOTHING;`, args...)
	if err != nil {
		return fmt.Errorf("pgstore: save checkpoint of %s: %w", c.Evaluation.ProcessID, err)
	}
	return nil
}

// Checkpoints is the reference's query: timestamp < before, latest first, at
// most limit rows (none for 0, all for a negative limit, as SQLite's LIMIT).
// Rows of one timestamp come by id, descending byte-wise: the order of
// SQLite's backward scan of idx_checkpoints_processId_timestamp, which the
// reference's SQL leaves open. Rows whose JSON does not parse are skipped (a NULL is an
// error, as in sqlitestore).
func (s *Store) Checkpoints(ctx context.Context, processID string, before int64, limit int) ([]*ao.Checkpoint, error) {
	var lim any // NULL: LIMIT ALL
	if limit >= 0 {
		lim = int64(limit)
	}
	rows, err := s.pool.Query(ctx, `SELECT memory, evaluation FROM checkpoints
    WHERE "processId" = $1 AND timestamp < $2 ORDER BY timestamp DESC, id COLLATE "C" DESC LIMIT $3`, processID, before, lim)
	if err != nil {
		return nil, fmt.Errorf("pgstore: checkpoints of %s: %w", processID, err)
	}
	defer rows.Close()
	out, err := rowcodec.ScanCheckpoints(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: checkpoints of %s: %w", processID, err)
	}
	return out, nil
}

var _ ao.ModuleBinaryStore = (*Store)(nil)

// SaveModuleBinary records a module binary's hash and size in
// aocu_module_binaries, replacing the module's earlier record (an upsert,
// atomic against another CU recording the module at once).
func (s *Store) SaveModuleBinary(ctx context.Context, b *ao.ModuleBinary) error {
	if b == nil || b.ModuleID == "" {
		return errors.New("pgstore: save module binary: empty module id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO aocu_module_binaries (id, sha256, size) VALUES ($1, $2, $3)
    ON CONFLICT (id) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size;`, b.ModuleID, b.SHA256, b.Size)
	if err != nil {
		return fmt.Errorf("pgstore: save module binary %s: %w", b.ModuleID, err)
	}
	return nil
}

// FindModuleBinary returns a module binary's record, or ao.ErrNotFound.
func (s *Store) FindModuleBinary(ctx context.Context, moduleID string) (*ao.ModuleBinary, error) {
	b := &ao.ModuleBinary{ModuleID: moduleID}
	err := s.pool.QueryRow(ctx, `SELECT sha256, size FROM aocu_module_binaries WHERE id = $1`, moduleID).Scan(&b.SHA256, &b.Size)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: find module binary %s: %w", moduleID, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: find module binary %s: %w", moduleID, err)
	}
	return b, nil
}
