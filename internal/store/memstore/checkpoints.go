package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aocu/aocu/internal/ao"
)

// The checkpoint rows keep the evaluation as the SQL stores' evaluation
// column does, as JSON, so that what comes back is what comes back from
// them.

// SaveFileCheckpoint is the reference's INSERT OR REPLACE INTO
// checkpoint_files: the row replaces the process's (processId is UNIQUE) and
// any row of the same id (the PRIMARY KEY).
func (s *Store) SaveFileCheckpoint(ctx context.Context, c *ao.FileCheckpoint) error {
	if c == nil {
		return errors.New("memstore: save file checkpoint: nil checkpoint")
	}
	ev, err := json.Marshal(c.Evaluation)
	if err != nil {
		return fmt.Errorf("memstore: save file checkpoint: %w", err)
	}
	pid := c.Evaluation.ProcessID
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memstore: save file checkpoint of %s: %w", pid, err)
	}
	id := c.Evaluation.ID()
	db := s.db
	db.mu.Lock()
	defer db.mu.Unlock()
	if old, ok := db.fileCheckpoints[pid]; ok {
		delete(db.fileIDs, old.id)
	}
	if otherPID, ok := db.fileIDs[id]; ok {
		delete(db.fileCheckpoints, otherPID)
	}
	db.fileCheckpoints[pid] = fileCheckpointRow{id: id, file: c.File, evaluation: ev, cachedAt: c.CachedAt}
	db.fileIDs[id] = pid
	return nil
}

// FindFileCheckpoint returns the process's checkpoint_files row, or
// ao.ErrNotFound.
func (s *Store) FindFileCheckpoint(ctx context.Context, processID string) (*ao.FileCheckpoint, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: file checkpoint of %s: %w", processID, err)
	}
	s.db.mu.RLock()
	r, ok := s.db.fileCheckpoints[processID]
	s.db.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: file checkpoint of %s: %w", processID, ao.ErrNotFound)
	}
	c := &ao.FileCheckpoint{File: r.file, CachedAt: r.cachedAt}
	if err := json.Unmarshal(r.evaluation, &c.Evaluation); err != nil {
		return nil, fmt.Errorf("memstore: file checkpoint of %s: evaluation: %w", processID, err)
	}
	return c, nil
}

// SaveCheckpoint is the reference's INSERT OR IGNORE INTO checkpoints, keyed
// by the evaluation's id.
func (s *Store) SaveCheckpoint(ctx context.Context, c *ao.Checkpoint) error {
	if c == nil {
		return errors.New("memstore: save checkpoint: nil checkpoint")
	}
	ev, err := json.Marshal(c.Evaluation)
	if err != nil {
		return fmt.Errorf("memstore: save checkpoint: %w", err)
	}
	e := c.Evaluation
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memstore: save checkpoint of %s: %w", e.ProcessID, err)
	}
	id := e.ID()
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	if _, ok := s.db.checkpoints[id]; !ok {
		s.db.checkpoints[id] = checkpointRow{processID: e.ProcessID, timestamp: e.Timestamp,
			txID: c.TxID, encoding: c.Encoding, evaluation: ev}
	}
	return nil
}

// Checkpoints is the reference's query: the process's rows with timestamp <
// before, latest first (rows of one timestamp by id, descending, the order
// SQLite reads them from its index), at most limit (a negative limit is no
// limit, as SQLite's LIMIT).
func (s *Store) Checkpoints(ctx context.Context, processID string, before int64, limit int) ([]*ao.Checkpoint, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: checkpoints of %s: %w", processID, err)
	}
	type hit struct {
		id string
		r  checkpointRow
	}
	var hits []hit
	s.db.mu.RLock()
	for id, r := range s.db.checkpoints {
		if r.processID == processID && r.timestamp < before {
			hits = append(hits, hit{id, r})
		}
	}
	s.db.mu.RUnlock()
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(b.r.timestamp, a.r.timestamp), strings.Compare(b.id, a.id))
	})
	if limit >= 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	var out []*ao.Checkpoint
	for _, h := range hits {
		c := &ao.Checkpoint{TxID: h.r.txID, Encoding: h.r.encoding}
		if err := json.Unmarshal(h.r.evaluation, &c.Evaluation); err != nil {
			return nil, fmt.Errorf("memstore: checkpoints of %s: evaluation: %w", processID, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// SaveModuleBinary records (or replaces) a module binary's hash and size.
func (s *Store) SaveModuleBinary(ctx context.Context, b *ao.ModuleBinary) error {
	if b == nil || b.ModuleID == "" {
		return errors.New("memstore: save module binary: empty module id")
	}
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memstore: save module binary %s: %w", b.ModuleID, err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	s.db.moduleBinaries[b.ModuleID] = *b
	return nil
}

// FindModuleBinary returns a module binary's record, or ao.ErrNotFound.
func (s *Store) FindModuleBinary(ctx context.Context, moduleID string) (*ao.ModuleBinary, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: find module binary %s: %w", moduleID, err)
	}
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	b, ok := s.db.moduleBinaries[moduleID]
	if !ok {
		return nil, fmt.Errorf("memstore: find module binary %s: %w", moduleID, ao.ErrNotFound)
	}
	return &b, nil
}
