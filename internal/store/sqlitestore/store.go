// Package sqlitestore is the CU's embedded persistence: ao.Store on a SQLite
// file with the reference CU's schema and queries (servers/cu/src/effects/
// sqlite.js and ao-*.js), so that operators find the tables, columns and rows
// they know.
//
// The Store keeps two connection pools on the one file: a single writer
// connection (BEGIN IMMEDIATE, so every write of this process is serialised
// in Go by database/sql and never meets SQLITE_BUSY from a sibling writer,
// while waiting for it honours the context), and a pool of query-only
// readers, which WAL lets run alongside the writer.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/rowcodec"

	_ "github.com/mattn/go-sqlite3" // SQLite driver
)

// Defaults of Options, the reference's: every 5 s, restart the WAL when its
// file is over 100 MB.
const (
	DefaultWALCheckpointInterval       = 5 * time.Second
	DefaultWALCheckpointBytes    int64 = 100 << 20
)

// busyTimeoutMS bounds how long a connection waits for a lock held by
// another connection (readers during a RESTART checkpoint, another process).
const busyTimeoutMS = 10000

// Options configures Open. The zero value is the reference's behaviour.
type Options struct {
	// Logger receives the WAL checkpoint loop's messages (discarded if nil).
	Logger *slog.Logger
	// WALCheckpointInterval is how often the size of the -wal file is checked
	// (DefaultWALCheckpointInterval if <= 0).
	WALCheckpointInterval time.Duration
	// WALCheckpointBytes is the -wal size above which
	// PRAGMA wal_checkpoint(RESTART) runs (DefaultWALCheckpointBytes if <= 0).
	WALCheckpointBytes int64
}

// Store is ao.Store on SQLite. It is safe for concurrent use.
type Store struct {
	w *sql.DB // one connection, _txlock=immediate: all writes
	r *sql.DB // query-only connections: all reads

	path   string
	logger *slog.Logger

	cancel      context.CancelFunc
	loopDone    chan struct{}
	checkpoints atomic.Int64 // wal_checkpoint(RESTART) runs, for tests
	closeOnce   sync.Once
	closeErr    error
}

var _ ao.Store = (*Store)(nil)

// Open opens or creates the database file at path (the caller maps the
// reference's DB_URL "ao-cache" to "ao-cache.sqlite"), creates the
// reference's tables and indexes if missing, and starts the WAL checkpoint
// loop, which Close stops.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: open: empty path")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.WALCheckpointInterval <= 0 {
		opts.WALCheckpointInterval = DefaultWALCheckpointInterval
	}
	if opts.WALCheckpointBytes <= 0 {
		opts.WALCheckpointBytes = DefaultWALCheckpointBytes
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
		}
	}

	// The writer first: it switches a new file to WAL and creates the schema
	// before any query-only reader connects.
	uri := "file:" + escapeURIPath(path)
	common := fmt.Sprintf("_busy_timeout=%d&_synchronous=NORMAL&_stmt_cache_size=32", busyTimeoutMS)
	w, err := sql.Open("sqlite3", uri+"?_journal_mode=WAL&_txlock=immediate&"+common)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := initSchema(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}

	r, err := sql.Open("sqlite3", uri+"?_query_only=true&"+common)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}

	loopCtx, cancel := context.WithCancel(context.Background())
	s := &Store{
		w:        w,
		r:        r,
		path:     path,
		logger:   opts.Logger,
		cancel:   cancel,
		loopDone: make(chan struct{}),
	}
	go s.walLoop(loopCtx, opts.WALCheckpointInterval, opts.WALCheckpointBytes)
	return s, nil
}

// escapeURIPath makes a file path safe inside a "file:" URI: SQLite decodes
// %HH in the path, and '?' and '#' would end it.
func escapeURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

func initSchema(ctx context.Context, db *sql.DB) error {
	// The reference sets the encoding before creating anything; it only
	// matters for a new, empty file.
	if _, err := db.ExecContext(ctx, `PRAGMA encoding = "UTF-8"`); err != nil {
		return fmt.Errorf("set encoding: %w", err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, not wal", mode)
	}
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	return nil
}

// walLoop is the reference's checkpoint-starvation guard: every interval, if
// the -wal file is larger than limit, PRAGMA wal_checkpoint(RESTART).
func (s *Store) walLoop(ctx context.Context, interval time.Duration, limit int64) {
	defer close(s.loopDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	walPath := s.path + "-wal"
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(walPath)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				s.logger.Warn("sqlitestore: stat WAL", "path", walPath, "err", err)
			}
			continue
		}
		if fi.Size() <= limit {
			continue
		}
		var busy, logFrames, checkpointed int64
		err = s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &checkpointed)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Warn("sqlitestore: WAL checkpoint", "path", walPath, "err", err)
			}
			continue
		}
		s.checkpoints.Add(1)
		s.logger.Debug("sqlitestore: WAL checkpoint", "path", walPath, "walBytes", fi.Size(),
			"busy", busy, "logFrames", logFrames, "checkpointed", checkpointed)
	}
}

// Close stops the WAL checkpoint loop, waits for it, and closes the database.
// Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		<-s.loopDone
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("sqlitestore: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// ---- processes ----

// FindProcess returns the processes row. As the reference does, a row whose
// owner is not JSON (an old format) is deleted and reported as not found, so
// that the caller re-inserts it.
func (s *Store) FindProcess(ctx context.Context, id string) (*ao.Process, error) {
	var (
		sig, anchor       sql.NullString
		owner, tags, blck []byte
	)
	err := s.r.QueryRowContext(ctx, `SELECT id, signature, anchor, owner, tags, block FROM processes WHERE id = ?;`, id).
		Scan(&id, &sig, &anchor, &owner, &tags, &blck)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: find process %s: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find process %s: %w", id, err)
	}
	p, err := rowcodec.Process(id, sig.String, anchor.String, owner, tags, blck)
	if errors.Is(err, rowcodec.ErrInvalidOwner) {
		if _, err := s.w.ExecContext(ctx, `DELETE FROM processes WHERE id = ?;`, id); err != nil {
			return nil, fmt.Errorf("sqlitestore: delete invalid process %s: %w", id, err)
		}
		return nil, fmt.Errorf("sqlitestore: find process %s: invalid record: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find process %s: %w", id, err)
	}
	return p, nil
}

// SaveProcess inserts the processes row (INSERT OR IGNORE; data is NULL, the
// reference never stores it).
func (s *Store) SaveProcess(ctx context.Context, p *ao.Process) error {
	if p == nil || p.ID == "" {
		return errors.New("sqlitestore: save process: empty id")
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT OR IGNORE INTO processes (id, signature, data, anchor, owner, tags, block) VALUES (?, ?, ?, ?, ?, ?, ?);`,
		rowcodec.ProcessArgs(p)...)
	if err != nil {
		return fmt.Errorf("sqlitestore: save process %s: %w", p.ID, err)
	}
	return nil
}

// ---- modules ----

// FindModule returns the modules row, with the reference's self-cleanup of
// rows whose owner is not JSON.
func (s *Store) FindModule(ctx context.Context, id string) (*ao.Module, error) {
	var owner, tags []byte
	err := s.r.QueryRowContext(ctx, `SELECT id, tags, owner FROM modules WHERE id = ?`, id).Scan(&id, &tags, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: find module %s: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find module %s: %w", id, err)
	}
	m, err := rowcodec.Module(id, owner, tags)
	if errors.Is(err, rowcodec.ErrInvalidOwner) {
		if _, err := s.w.ExecContext(ctx, `DELETE FROM modules WHERE id = ?;`, id); err != nil {
			return nil, fmt.Errorf("sqlitestore: delete invalid module %s: %w", id, err)
		}
		return nil, fmt.Errorf("sqlitestore: find module %s: invalid record: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find module %s: %w", id, err)
	}
	return m, nil
}

// SaveModule inserts the modules row (INSERT OR IGNORE).
func (s *Store) SaveModule(ctx context.Context, m *ao.Module) error {
	if m == nil || m.ID == "" {
		return errors.New("sqlitestore: save module: empty id")
	}
	_, err := s.w.ExecContext(ctx, `INSERT OR IGNORE INTO modules (id, tags, owner) VALUES (?, ?, ?)`,
		m.ID, rowcodec.TagsJSON(m.Tags), rowcodec.OwnerJSON(m.Owner))
	if err != nil {
		return fmt.Errorf("sqlitestore: save module %s: %w", m.ID, err)
	}
	return nil
}

// ---- evaluations and messages ----

const insertEvaluationSQL = `INSERT OR IGNORE INTO evaluations
  (id, "processId", "messageId", "deepHash", nonce, epoch, timestamp, ordinate, "blockHeight", cron, "evaluatedAt", output)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);`

const insertMessageSQL = `INSERT OR IGNORE INTO messages (id, "processId", seq) VALUES (?, ?, ?);`

const evaluationCols = `id, "processId", "messageId", "deepHash", nonce, epoch, timestamp,
  ordinate, "blockHeight", cron, "evaluatedAt", output`

// SaveEvaluations writes a batch in one transaction: the evaluations rows
// (unless skipEvaluations) and, for every evaluation with a MessageRowID, the
// messages row, all INSERT OR IGNORE. Output is stored verbatim as TEXT; it
// must be valid JSON. Any error rolls the whole batch back.
func (s *Store) SaveEvaluations(ctx context.Context, evals []*ao.Evaluation, skipEvaluations bool) (err error) {
	if len(evals) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: save evaluations: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var evStmt, msgStmt *sql.Stmt
	for _, e := range evals {
		if e == nil || e.ProcessID == "" {
			return errors.New("sqlitestore: save evaluations: evaluation without process id")
		}
		id := e.ID()
		if !skipEvaluations {
			if err = rowcodec.CheckOutput(e.Output); err != nil {
				return fmt.Errorf("sqlitestore: save evaluations: %s: %w", id, err)
			}
			if evStmt == nil {
				if evStmt, err = tx.PrepareContext(ctx, insertEvaluationSQL); err != nil {
					return fmt.Errorf("sqlitestore: save evaluations: %w", err)
				}
			}
			if _, err = evStmt.ExecContext(ctx, rowcodec.EvaluationArgs(id, e)...); err != nil {
				return fmt.Errorf("sqlitestore: save evaluations: %s: %w", id, err)
			}
		}
		if mid := e.MessageRowID(); mid != "" {
			if msgStmt == nil {
				if msgStmt, err = tx.PrepareContext(ctx, insertMessageSQL); err != nil {
					return fmt.Errorf("sqlitestore: save evaluations: %w", err)
				}
			}
			if _, err = msgStmt.ExecContext(ctx, mid, e.ProcessID, e.Seq()); err != nil {
				return fmt.Errorf("sqlitestore: save evaluations: message %s of %s: %w", mid, id, err)
			}
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: save evaluations: commit: %w", err)
	}
	return nil
}

// FindEvaluation returns the evaluation with the id
// "<pid>,<timestamp>,<ordinate>[,<cron>]", or ao.ErrNotFound.
func (s *Store) FindEvaluation(ctx context.Context, id string) (*ao.Evaluation, error) {
	e, err := rowcodec.ScanEvaluation(s.r.QueryRowContext(ctx, `SELECT `+evaluationCols+` FROM evaluations WHERE id = ?;`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: find evaluation %s: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: find evaluation %s: %w", id, err)
	}
	return e, nil
}

// Evaluations runs the reference's findEvaluations query: After < id <=
// Through (string order), optionally only crons, ordered by timestamp,
// ordinate (text), cron, ascending or descending, at most Limit rows.
//
// An empty After or Through is the reference's default bound for the whole
// process: "<pid>," and "<pid>,\U0010FFFF". Limit <= 0 means no limit.
func (s *Store) Evaluations(ctx context.Context, q ao.RangeQuery) ([]*ao.Evaluation, error) {
	after, through, err := rowcodec.EvaluationRange(q)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: evaluations: %w", err)
	}
	sort := "ASC"
	if q.Desc {
		sort = "DESC"
	}
	cronFilter := ""
	if q.OnlyCron {
		cronFilter = "AND cron IS NOT NULL"
	}
	limit := int64(q.Limit)
	if limit <= 0 {
		limit = -1
	}
	query := `SELECT ` + evaluationCols + `
  FROM evaluations
  WHERE
    id > ? AND id <= ?
    ` + cronFilter + `
  ORDER BY
    timestamp ` + sort + `,
    ordinate ` + sort + `,
    cron ` + sort + `
  LIMIT ?;`
	rows, err := s.r.QueryContext(ctx, query, after, through, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: evaluations of %s: %w", q.ProcessID, err)
	}
	defer rows.Close()
	out, err := rowcodec.ScanEvaluations(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: evaluations of %s: %w", q.ProcessID, err)
	}
	return out, nil
}

// LatestEvaluation returns the process's greatest evaluation in (timestamp,
// ordinate, cron) order, or ao.ErrNotFound. The order is found on the key
// columns alone over the process's primary-key range; only the winning row's
// output is read.
func (s *Store) LatestEvaluation(ctx context.Context, processID string) (*ao.Evaluation, error) {
	after, through := rowcodec.ProcessRange(processID)
	var id string
	err := s.r.QueryRowContext(ctx, `SELECT id FROM evaluations
  WHERE id > ? AND id <= ?
  ORDER BY timestamp DESC, ordinate DESC, cron DESC
  LIMIT 1;`, after, through).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: latest evaluation of %s: %w", processID, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: latest evaluation of %s: %w", processID, err)
	}
	e, err := s.FindEvaluation(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: latest evaluation of %s: %w", processID, err)
	}
	return e, nil
}

// MessageSeenBefore runs the reference's findMessageBefore, quirk included:
// its first alternative compares the nonce part of seq to the epoch, so with
// epoch 0 it never matches and the query means "recorded for this process at
// a lower nonce of the same epoch".
func (s *Store) MessageSeenBefore(ctx context.Context, processID, id string, epoch, nonce int64) (bool, error) {
	var gotID, seq string
	err := s.r.QueryRowContext(ctx, `SELECT
    id, seq
  FROM messages
  WHERE
    id = ?
    AND processId = ?
    AND (
      CAST(substr(seq, instr(seq, ':') + 1) as UNSIGNED) < ?
      OR
        (
          CAST(SUBSTR(seq, 1, INSTR(seq, ':') - 1) AS INTEGER) = ?
          AND CAST(SUBSTR(seq, INSTR(seq, ':') + 1) AS INTEGER) < ?
        )
    )
  LIMIT 1;`, id, processID, epoch, epoch, nonce).Scan(&gotID, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlitestore: find message %s before %d:%d of %s: %w", id, epoch, nonce, processID, err)
	}
	return true, nil
}

// ---- blocks ----

// blocksPerStatement keeps a multi-row INSERT under SQLite's historical limit
// of 999 variables, as the reference does (250 rows of 3).
const blocksPerStatement = 250

// SaveBlocks inserts the blocks rows (id = height), INSERT OR IGNORE, in one
// transaction.
func (s *Store) SaveBlocks(ctx context.Context, blocks []ao.Block) (err error) {
	if len(blocks) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: save blocks: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	for len(blocks) > 0 {
		n := min(len(blocks), blocksPerStatement)
		var q strings.Builder
		q.WriteString("INSERT OR IGNORE INTO blocks (id, height, timestamp) VALUES ")
		args := make([]any, 0, 3*n)
		for i, b := range blocks[:n] {
			if i > 0 {
				q.WriteString(",\n")
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, b.Height, b.Height, b.Timestamp)
		}
		if _, err = tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("sqlitestore: save blocks: %w", err)
		}
		blocks = blocks[n:]
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: save blocks: commit: %w", err)
	}
	return nil
}

// Blocks returns the blocks with height >= minHeight and timestamp <=
// maxTimestamp (ms), ascending by height.
func (s *Store) Blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]ao.Block, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT height, timestamp FROM blocks
  WHERE
    height >= ?
    AND timestamp <= ?
  ORDER BY height ASC`, minHeight, maxTimestamp)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: blocks from %d to %d: %w", minHeight, maxTimestamp, err)
	}
	defer rows.Close()
	out, err := rowcodec.ScanBlocks(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: blocks from %d to %d: %w", minHeight, maxTimestamp, err)
	}
	return out, nil
}
