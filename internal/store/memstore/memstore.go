// Package memstore is ao.Store and ao.CheckpointStore in memory: the same
// behaviour as sqlitestore and pgstore (the storetest suite is its
// contract), with nothing written anywhere. It is for the engine's fast tests
// and for aocu tools that need no persistence.
//
// A DB is the "database": the tables, in memory. Several Stores opened on one
// DB share its rows, as several stores on one SQLite file or PostgreSQL
// schema do; the rows live as long as the DB.
//
// It is pure Go: it must not import cgo, a database driver (mattn/go-sqlite3,
// pgx) or database/sql, so that the packages whose tests use it build and
// run without a C toolchain.
//
// Ids, ordinates and crons compare byte-wise, as SQLite's BINARY collation
// does (Go's string order). Outputs are kept byte-identical: every save and
// every read copies them.
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/rowcodec"
)

// ErrClosed is returned by every call on a closed Store.
var ErrClosed = errors.New("store is closed")

// DB is an in-memory database: the reference's tables. It is safe for
// concurrent use by several Stores.
type DB struct {
	mu sync.RWMutex

	processes map[string]processRow
	modules   map[string]moduleRow

	evals   map[string]*evalRow // by id
	evalIDs []string            // the keys of evals, ascending (byte order)

	messages map[messageKey]seq
	blocks   map[int64]int64 // height -> timestamp

	fileCheckpoints map[string]fileCheckpointRow // by process id (UNIQUE)
	fileIDs         map[string]string            // checkpoint_files id -> process id (PRIMARY KEY)
	checkpoints     map[string]checkpointRow     // by id

	moduleBinaries map[string]ao.ModuleBinary
}

// The rows hold what the SQL stores' columns hold: the JSON columns as the
// reference writes them (so that what comes back is what comes back from
// SQLite), NULLs as "" or nil.
type (
	processRow struct {
		signature, anchor   string
		owner, tags, blockJ []byte
	}
	moduleRow struct {
		owner, tags []byte
	}
	evalRow struct {
		processID, messageID, deepHash string
		nonce, epoch                   *int64
		timestamp                      int64
		ordinate                       string
		blockHeight                    int64
		cron                           string
		output                         []byte
		evaluatedAt                    int64
	}
	messageKey struct{ id, processID string }
	seq        struct{ epoch, nonce int64 }

	fileCheckpointRow struct {
		id         string
		file       string
		evaluation []byte
		cachedAt   int64
	}
	checkpointRow struct {
		processID      string
		timestamp      int64
		txID, encoding string
		evaluation     []byte
	}
)

// NewDB returns an empty database.
func NewDB() *DB {
	return &DB{
		processes:       map[string]processRow{},
		modules:         map[string]moduleRow{},
		evals:           map[string]*evalRow{},
		messages:        map[messageKey]seq{},
		blocks:          map[int64]int64{},
		fileCheckpoints: map[string]fileCheckpointRow{},
		fileIDs:         map[string]string{},
		checkpoints:     map[string]checkpointRow{},
		moduleBinaries:  map[string]ao.ModuleBinary{},
	}
}

// Store is ao.Store and ao.CheckpointStore on a DB. It is safe for
// concurrent use.
type Store struct {
	db     *DB
	closed atomic.Bool
}

var (
	_ ao.Store             = (*Store)(nil)
	_ ao.CheckpointStore   = (*Store)(nil)
	_ ao.ModuleBinaryStore = (*Store)(nil)
)

// Open returns a Store on db, which other Stores may share; a nil db is a
// new, private database.
func Open(db *DB) *Store {
	if db == nil {
		db = NewDB()
	}
	return &Store{db: db}
}

// New returns a Store on a new, private database.
func New() *Store { return Open(nil) }

// Close closes the Store (not its DB, whose rows other Stores and later
// Opens still see). Every later call on it returns ErrClosed; Close itself
// may be called again.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// check is what every call does first: a closed store and a done context
// are errors.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// ---- processes and modules ----

// FindProcess returns the processes row, or ao.ErrNotFound.
func (s *Store) FindProcess(ctx context.Context, id string) (*ao.Process, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: find process %s: %w", id, err)
	}
	s.db.mu.RLock()
	r, ok := s.db.processes[id]
	s.db.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: find process %s: %w", id, ao.ErrNotFound)
	}
	p, err := rowcodec.Process(id, r.signature, r.anchor, r.owner, r.tags, r.blockJ)
	if err != nil {
		return nil, fmt.Errorf("memstore: find process %s: %w", id, err)
	}
	return p, nil
}

// SaveProcess inserts the processes row (INSERT OR IGNORE).
func (s *Store) SaveProcess(ctx context.Context, p *ao.Process) error {
	if p == nil || p.ID == "" {
		return errors.New("memstore: save process: empty id")
	}
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memstore: save process %s: %w", p.ID, err)
	}
	r := processRow{signature: p.Signature, anchor: p.Anchor, owner: []byte(rowcodec.OwnerJSON(p.Owner)),
		tags: []byte(rowcodec.TagsJSON(p.Tags)), blockJ: []byte(rowcodec.BlockJSON(p.Block))}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	if _, ok := s.db.processes[p.ID]; !ok {
		s.db.processes[p.ID] = r
	}
	return nil
}

// FindModule returns the modules row, or ao.ErrNotFound.
func (s *Store) FindModule(ctx context.Context, id string) (*ao.Module, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: find module %s: %w", id, err)
	}
	s.db.mu.RLock()
	r, ok := s.db.modules[id]
	s.db.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: find module %s: %w", id, ao.ErrNotFound)
	}
	m, err := rowcodec.Module(id, r.owner, r.tags)
	if err != nil {
		return nil, fmt.Errorf("memstore: find module %s: %w", id, err)
	}
	return m, nil
}

// SaveModule inserts the modules row (INSERT OR IGNORE).
func (s *Store) SaveModule(ctx context.Context, m *ao.Module) error {
	if m == nil || m.ID == "" {
		return errors.New("memstore: save module: empty id")
	}
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memstore: save module %s: %w", m.ID, err)
	}
	r := moduleRow{owner: []byte(rowcodec.OwnerJSON(m.Owner)), tags: []byte(rowcodec.TagsJSON(m.Tags))}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	if _, ok := s.db.modules[m.ID]; !ok {
		s.db.modules[m.ID] = r
	}
	return nil
}

// ---- evaluations and messages ----

func newEvalRow(e *ao.Evaluation) *evalRow {
	return &evalRow{
		processID:   e.ProcessID,
		messageID:   e.MessageID,
		deepHash:    e.DeepHash,
		nonce:       clonePtr(e.Nonce),
		epoch:       clonePtr(e.Epoch),
		timestamp:   e.Timestamp,
		ordinate:    e.Ordinate,
		blockHeight: e.BlockHeight,
		cron:        e.Cron,
		output:      bytes.Clone(e.Output),
		evaluatedAt: e.EvaluatedAt,
	}
}

// evaluation is the row read back: fresh pointers and a copy of the output,
// which the caller may change.
func (r *evalRow) evaluation() *ao.Evaluation {
	return &ao.Evaluation{
		ProcessID:   r.processID,
		MessageID:   r.messageID,
		DeepHash:    r.deepHash,
		Nonce:       clonePtr(r.nonce),
		Epoch:       clonePtr(r.epoch),
		Timestamp:   r.timestamp,
		Ordinate:    r.ordinate,
		BlockHeight: r.blockHeight,
		Cron:        r.cron,
		Output:      bytes.Clone(r.output),
		EvaluatedAt: r.evaluatedAt,
	}
}

func clonePtr(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// compareRows is the queries' ORDER BY timestamp, ordinate, cron: text
// byte-wise, a NULL cron ("") first. Rows equal on the three (of different
// processes, when a range has explicit bounds) are in id order.
func compareRows(aID string, a *evalRow, bID string, b *evalRow) int {
	return cmp.Or(
		cmp.Compare(a.timestamp, b.timestamp),
		strings.Compare(a.ordinate, b.ordinate),
		strings.Compare(a.cron, b.cron),
		strings.Compare(aID, bID),
	)
}

// SaveEvaluations writes a batch at once: the evaluations rows (unless
// skipEvaluations) and, for every evaluation with a MessageRowID, the
// messages row, all INSERT OR IGNORE in the batch's order. Outputs must be
// valid JSON and not a bare number, as in the SQL stores; an invalid
// evaluation fails the whole batch before anything is written.
func (s *Store) SaveEvaluations(ctx context.Context, evals []*ao.Evaluation, skipEvaluations bool) error {
	if len(evals) == 0 {
		return nil
	}
	ids := make([]string, len(evals))
	for i, e := range evals {
		if e == nil || e.ProcessID == "" {
			return errors.New("memstore: save evaluations: evaluation without process id")
		}
		ids[i] = e.ID()
		if !skipEvaluations {
			if err := rowcodec.CheckOutput(e.Output); err != nil {
				return fmt.Errorf("memstore: save evaluations: %s: %w", ids[i], err)
			}
		}
	}
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memstore: save evaluations: %w", err)
	}

	db := s.db
	db.mu.Lock()
	defer db.mu.Unlock()
	var added []string
	for i, e := range evals {
		if !skipEvaluations {
			if _, ok := db.evals[ids[i]]; !ok {
				db.evals[ids[i]] = newEvalRow(e)
				added = append(added, ids[i])
			}
		}
		if mid := e.MessageRowID(); mid != "" {
			k := messageKey{id: mid, processID: e.ProcessID}
			if _, ok := db.messages[k]; !ok {
				var sq seq
				if e.Epoch != nil {
					sq.epoch = *e.Epoch
				}
				if e.Nonce != nil {
					sq.nonce = *e.Nonce
				}
				db.messages[k] = sq
			}
		}
	}
	db.addEvalIDs(added)
	return nil
}

// addEvalIDs adds new ids to the ordered index: one by one for a few (the
// engine appends, so each lands at the end), by a merge for many.
func (db *DB) addEvalIDs(added []string) {
	if len(added) <= 16 {
		for _, id := range added {
			i, _ := slices.BinarySearch(db.evalIDs, id)
			db.evalIDs = slices.Insert(db.evalIDs, i, id)
		}
		return
	}
	slices.Sort(added)
	merged := make([]string, 0, len(db.evalIDs)+len(added))
	old := db.evalIDs
	for len(old) > 0 && len(added) > 0 {
		if old[0] < added[0] {
			merged, old = append(merged, old[0]), old[1:]
		} else {
			merged, added = append(merged, added[0]), added[1:]
		}
	}
	merged = append(merged, old...)
	db.evalIDs = append(merged, added...)
}

// FindEvaluation returns the evaluation with the id
// "<pid>,<timestamp>,<ordinate>[,<cron>]", or ao.ErrNotFound.
func (s *Store) FindEvaluation(ctx context.Context, id string) (*ao.Evaluation, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: find evaluation %s: %w", id, err)
	}
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	r, ok := s.db.evals[id]
	if !ok {
		return nil, fmt.Errorf("memstore: find evaluation %s: %w", id, ao.ErrNotFound)
	}
	return r.evaluation(), nil
}

// idRange calls fn for the ids after < id <= through, ascending.
func (db *DB) idRange(after, through string, fn func(id string, r *evalRow)) {
	i, found := slices.BinarySearch(db.evalIDs, after)
	if found {
		i++
	}
	for _, id := range db.evalIDs[i:] {
		if id > through {
			return
		}
		fn(id, db.evals[id])
	}
}

// Evaluations is the reference's findEvaluations query: After < id <=
// Through (byte order), optionally only crons, ordered by timestamp,
// ordinate, cron, ascending or descending, at most Limit rows (Limit <= 0:
// no limit). An empty bound is the reference's default bound for the whole
// process.
func (s *Store) Evaluations(ctx context.Context, q ao.RangeQuery) ([]*ao.Evaluation, error) {
	after, through, err := rowcodec.EvaluationRange(q)
	if err != nil {
		return nil, fmt.Errorf("memstore: evaluations: %w", err)
	}
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: evaluations of %s: %w", q.ProcessID, err)
	}
	type hit struct {
		id string
		r  *evalRow
	}
	var hits []hit
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	s.db.idRange(after, through, func(id string, r *evalRow) {
		if !q.OnlyCron || r.cron != "" {
			hits = append(hits, hit{id, r})
		}
	})
	slices.SortFunc(hits, func(a, b hit) int {
		c := compareRows(a.id, a.r, b.id, b.r)
		if q.Desc {
			return -c
		}
		return c
	})
	if q.Limit > 0 && len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	var out []*ao.Evaluation
	for _, h := range hits {
		out = append(out, h.r.evaluation())
	}
	return out, nil
}

// LatestEvaluation returns the process's greatest evaluation in (timestamp,
// ordinate, cron) order, or ao.ErrNotFound.
func (s *Store) LatestEvaluation(ctx context.Context, processID string) (*ao.Evaluation, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: latest evaluation of %s: %w", processID, err)
	}
	after, through := rowcodec.ProcessRange(processID)
	var (
		bestID string
		best   *evalRow
	)
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	s.db.idRange(after, through, func(id string, r *evalRow) {
		if best == nil || compareRows(id, r, bestID, best) > 0 {
			bestID, best = id, r
		}
	})
	if best == nil {
		return nil, fmt.Errorf("memstore: latest evaluation of %s: %w", processID, ao.ErrNotFound)
	}
	return best.evaluation(), nil
}

// MessageSeenBefore is the reference's findMessageBefore, quirk included
// (as sqlitestore has it): the messages row (id, processID) exists and its
// seq's nonce part is below epoch, or its epoch part is epoch and its nonce
// part below nonce.
func (s *Store) MessageSeenBefore(ctx context.Context, processID, id string, epoch, nonce int64) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, fmt.Errorf("memstore: find message %s before %d:%d of %s: %w", id, epoch, nonce, processID, err)
	}
	s.db.mu.RLock()
	sq, ok := s.db.messages[messageKey{id: id, processID: processID}]
	s.db.mu.RUnlock()
	return ok && (sq.nonce < epoch || (sq.epoch == epoch && sq.nonce < nonce)), nil
}

// ---- blocks ----

// SaveBlocks inserts the blocks rows (keyed by height), INSERT OR IGNORE.
func (s *Store) SaveBlocks(ctx context.Context, blocks []ao.Block) error {
	if len(blocks) == 0 {
		return nil
	}
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("memstore: save blocks: %w", err)
	}
	s.db.mu.Lock()
	defer s.db.mu.Unlock()
	for _, b := range blocks {
		if _, ok := s.db.blocks[b.Height]; !ok {
			s.db.blocks[b.Height] = b.Timestamp
		}
	}
	return nil
}

// Blocks returns the blocks with height >= minHeight and timestamp <=
// maxTimestamp (ms), ascending by height.
func (s *Store) Blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]ao.Block, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("memstore: blocks from %d to %d: %w", minHeight, maxTimestamp, err)
	}
	var out []ao.Block
	s.db.mu.RLock()
	for h, ts := range s.db.blocks {
		if h >= minHeight && ts <= maxTimestamp {
			out = append(out, ao.Block{Height: h, Timestamp: ts})
		}
	}
	s.db.mu.RUnlock()
	slices.SortFunc(out, func(a, b ao.Block) int { return cmp.Compare(a.Height, b.Height) })
	return out, nil
}
