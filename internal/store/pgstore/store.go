// Package pgstore is the CU's shared persistence: ao.Store on PostgreSQL,
// with the reference CU's Postgres schema (servers/cu/src/effects/pg.js) and
// its queries (ao-*.js, turned from SQLite's dialect as pg.js's toOrdinals
// does: `?` → `$n`, `INSERT OR IGNORE` → `INSERT … ON CONFLICT DO NOTHING`),
// so that several `aocu serve` instances, and the reference CU, can share one
// database. It is also the ao.CheckpointStore (checkpoints.go).
//
// The results are sqlitestore's, row for row and byte for byte, whatever the
// database's collation: the contract of ao.Store is SQLite's behaviour, so
// that a CU's results do not depend on its database. Where that needs SQL
// other than the reference's Postgres SQL, the query says so; in short:
//
//   - the id range (id > $1 AND id <= $2) and the ORDER BY of ordinate and
//     cron compare byte-wise, COLLATE "C", as SQLite's BINARY collation does
//     (the reference compares in the database's collation, often en_US,
//     where the bound "<pid>,\U0010FFFF" and the ordinates sort otherwise),
//     served by one index the reference does not have
//     (idx_evaluations_id_collate_c, see IDIndexSQL);
//   - NULLs sort first under ASC and last under DESC (NULLS FIRST/LAST), as
//     in SQLite: a scheduled message (cron NULL) comes before a cron at the
//     same timestamp and ordinate;
//   - findMessageBefore's seq arithmetic is done in Go with SQLite's CAST
//     semantics on the one messages row of (id, processId) (the reference's
//     Postgres query casts to 32-bit INTEGER and raises on odd seqs);
//   - a batch of evaluations is written in one transaction with its rows in
//     key order (so that two CUs writing overlapping batches take row locks in
//     the same order), retried on a deadlock or serialization failure; the
//     reference's pg transaction sends its statements concurrently.
//
// Output is stored verbatim as TEXT and comes back byte-identical. Unlike
// SQLite, PostgreSQL's TEXT takes neither NUL bytes nor invalid UTF-8: such
// a value fails with the server's error (the CU writes neither: its JSON is
// valid UTF-8 and escapes control characters).
package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/store/rowcodec"
)

// Defaults of Options, the reference's pg.Pool: at most 10 connections,
// idle ones closed after 10 s.
const (
	DefaultMaxConns        int32 = 10
	DefaultMaxConnIdleTime       = 10 * time.Second
)

// maxTxAttempts bounds the tries of a write transaction that PostgreSQL
// aborts with a deadlock or a serialization failure.
const maxTxAttempts = 5

// Options configures Open. The zero value is the reference's behaviour.
type Options struct {
	// MaxConns bounds the connection pool. If <= 0, the URL's
	// pool_max_conns applies, else DefaultMaxConns.
	MaxConns int32
	// Logger receives retried transactions (discarded if nil).
	Logger *slog.Logger
}

// Store is ao.Store on PostgreSQL. It is safe for concurrent use, also by
// several processes on one database.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger

	closeOnce sync.Once
}

var _ ao.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a libpq
// keyword/value string, as pgx reads them, including pgx's pool_* and
// runtime parameters such as search_path), checks it, and creates the
// reference's tables and indexes (and IDIndexSQL) in the current schema if
// any is missing, under an advisory lock so that CUs starting together on a
// new database do not collide. When all are there it runs no DDL, so a role
// without CREATE on the schema can use a database made beforehand.
//
// TLS follows the URL's sslmode, pgx's default being "prefer" (TLS when the
// server offers it, unverified, else plain); the reference's Postgres client
// forces TLS without verifying the certificate unless the URL says
// otherwise, which here is sslmode=require.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if url == "" {
		return nil, errors.New("pgstore: open: empty url")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns
	}
	if !strings.Contains(url, "pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = DefaultMaxConnIdleTime
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s := &Store{pool: pool, logger: opts.Logger}
	if err := s.init(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var enc string
	if err := s.pool.QueryRow(ctx, `SHOW server_encoding`).Scan(&enc); err != nil {
		return err
	}
	// The bound "<pid>,\U0010FFFF" and the CU's text need UTF-8 (SQL_ASCII
	// stores the bytes as given, which is as good).
	if enc != "UTF8" && enc != "SQL_ASCII" {
		return fmt.Errorf("database encoding is %s, want UTF8", enc)
	}
	var have int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = current_schema() AND c.relname = ANY($1)`, schemaObjects).Scan(&have)
	if err != nil {
		return err
	}
	if have == len(schemaObjects) {
		return nil
	}
	return s.inTx(ctx, "create schema", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLockKey); err != nil {
			return err
		}
		for _, stmt := range schema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		return nil
	})
}

// Close closes the pool, waiting for the connections in use to be released.
// Later calls do nothing; every other method fails after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// inTx runs fn in a transaction, committed if fn returns nil, and runs it
// again (up to maxTxAttempts in all) when PostgreSQL aborts it with a
// deadlock or a serialization failure.
func (s *Store) inTx(ctx context.Context, what string, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || attempt == maxTxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		s.logger.Warn("pgstore: retrying transaction", "what", what, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
		}
	}
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}

// ---- processes ----

// FindProcess returns the processes row. As the reference does, a row whose
// owner is not JSON (an old format) is deleted and reported as not found, so
// that the caller re-inserts it.
func (s *Store) FindProcess(ctx context.Context, id string) (*ao.Process, error) {
	var (
		sig, anchor       *string
		owner, tags, blck []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT id, signature, anchor, owner, tags, block FROM processes WHERE id = $1;`, id).
		Scan(&id, &sig, &anchor, &owner, &tags, &blck)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: find process %s: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: find process %s: %w", id, err)
	}
	p, err := rowcodec.Process(id, rowcodec.Deref(sig), rowcodec.Deref(anchor), owner, tags, blck)
	if errors.Is(err, rowcodec.ErrInvalidOwner) {
		if _, err := s.pool.Exec(ctx, `DELETE FROM processes WHERE id = $1;`, id); err != nil {
			return nil, fmt.Errorf("pgstore: delete invalid process %s: %w", id, err)
		}
		return nil, fmt.Errorf("pgstore: find process %s: invalid record: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: find process %s: %w", id, err)
	}
	return p, nil
}

// SaveProcess inserts the processes row (ON CONFLICT DO NOTHING; data is
// NULL, the reference never stores it).
func (s *Store) SaveProcess(ctx context.Context, p *ao.Process) error {
	if p == nil || p.ID == "" {
		return errors.New("pgstore: save process: empty id")
	}
	_, err := s.pool.Exec(ctx,
		`INSERT INTO processes (id, signature, data, anchor, owner, tags, block) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING;`,
		rowcodec.ProcessArgs(p)...)
	if err != nil {
		return fmt.Errorf("pgstore: save process %s: %w", p.ID, err)
	}
	return nil
}

// ---- modules ----

// FindModule returns the modules row, with the reference's self-cleanup of
// rows whose owner is not JSON.
func (s *Store) FindModule(ctx context.Context, id string) (*ao.Module, error) {
	var owner, tags []byte
	err := s.pool.QueryRow(ctx, `SELECT id, tags, owner FROM modules WHERE id = $1`, id).Scan(&id, &tags, &owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: find module %s: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: find module %s: %w", id, err)
	}
	m, err := rowcodec.Module(id, owner, tags)
	if errors.Is(err, rowcodec.ErrInvalidOwner) {
		if _, err := s.pool.Exec(ctx, `DELETE FROM modules WHERE id = $1;`, id); err != nil {
			return nil, fmt.Errorf("pgstore: delete invalid module %s: %w", id, err)
		}
		return nil, fmt.Errorf("pgstore: find module %s: invalid record: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: find module %s: %w", id, err)
	}
	return m, nil
}

// SaveModule inserts the modules row (ON CONFLICT DO NOTHING).
func (s *Store) SaveModule(ctx context.Context, m *ao.Module) error {
	if m == nil || m.ID == "" {
		return errors.New("pgstore: save module: empty id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO modules (id, tags, owner) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING;`,
		m.ID, rowcodec.TagsJSON(m.Tags), rowcodec.OwnerJSON(m.Owner))
	if err != nil {
		return fmt.Errorf("pgstore: save module %s: %w", m.ID, err)
	}
	return nil
}

// ---- evaluations and messages ----

const insertEvaluationSQL = `INSERT INTO evaluations
  (id, "processId", "messageId", "deepHash", nonce, epoch, timestamp, ordinate, "blockHeight", cron, "evaluatedAt", output)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING;`

const insertMessageSQL = `INSERT INTO messages (id, "processId", seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING;`

const evaluationCols = `id, "processId", "messageId", "deepHash", nonce, epoch, timestamp,
  ordinate, "blockHeight", cron, "evaluatedAt", output`

type messageRow struct{ id, processID, seq string }

// SaveEvaluations writes a batch in one transaction: the evaluations rows
// (unless skipEvaluations) and, for every evaluation with a MessageRowID, the
// messages row, all ON CONFLICT DO NOTHING (where a batch holds one key
// twice, the first stays, as with SQLite's INSERT OR IGNORE). Output is
// stored verbatim as TEXT; it must be valid JSON, and not a bare number
// (sqlitestore's rule). Any error rolls the whole batch back.
//
// The rows are sent in one round trip, evaluations by id and then messages
// by (id, processId), so that concurrent writers of overlapping batches lock
// rows in one order; a deadlock or serialization failure is retried.
func (s *Store) SaveEvaluations(ctx context.Context, evals []*ao.Evaluation, skipEvaluations bool) error {
	if len(evals) == 0 {
		return nil
	}
	type evalRow struct {
		id string
		e  *ao.Evaluation
	}
	var (
		evRows  []evalRow
		msgRows []messageRow
	)
	for _, e := range evals {
		if e == nil || e.ProcessID == "" {
			return errors.New("pgstore: save evaluations: evaluation without process id")
		}
		id := e.ID()
		if !skipEvaluations {
			if err := rowcodec.CheckOutput(e.Output); err != nil {
				return fmt.Errorf("pgstore: save evaluations: %s: %w", id, err)
			}
			evRows = append(evRows, evalRow{id, e})
		}
		if mid := e.MessageRowID(); mid != "" {
			msgRows = append(msgRows, messageRow{mid, e.ProcessID, e.Seq()})
		}
	}
	if len(evRows)+len(msgRows) == 0 {
		return nil // crons with skipEvaluations: nothing to write
	}
	// Stable: of two rows with one key, the first is inserted.
	slices.SortStableFunc(evRows, func(a, b evalRow) int { return strings.Compare(a.id, b.id) })
	slices.SortStableFunc(msgRows, func(a, b messageRow) int {
		return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.processID, b.processID))
	})

	err := s.inTx(ctx, "save evaluations", func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, r := range evRows {
			b.Queue(insertEvaluationSQL, rowcodec.EvaluationArgs(r.id, r.e)...)
		}
		for _, m := range msgRows {
			b.Queue(insertMessageSQL, m.id, m.processID, m.seq)
		}
		br := tx.SendBatch(ctx, &b)
		for i := range b.Len() {
			if _, err := br.Exec(); err != nil {
				br.Close()
				if i < len(evRows) {
					return fmt.Errorf("%s: %w", evRows[i].id, err)
				}
				m := msgRows[i-len(evRows)]
				return fmt.Errorf("message %s of %s: %w", m.id, m.processID, err)
			}
		}
		return br.Close()
	})
	if err != nil {
		return fmt.Errorf("pgstore: save evaluations: %w", err)
	}
	return nil
}

// FindEvaluation returns the evaluation with the id
// "<pid>,<timestamp>,<ordinate>[,<cron>]", or ao.ErrNotFound.
func (s *Store) FindEvaluation(ctx context.Context, id string) (*ao.Evaluation, error) {
	e, err := rowcodec.ScanEvaluation(s.pool.QueryRow(ctx, `SELECT `+evaluationCols+` FROM evaluations WHERE id = $1;`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: find evaluation %s: %w", id, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: find evaluation %s: %w", id, err)
	}
	return e, nil
}

// idRange is the reference's id range, compared byte-wise as SQLite does
// (the reference's Postgres SQL has no COLLATE); idx_evaluations_id_collate_c
// serves it.
const idRange = `id COLLATE "C" > $1 AND id COLLATE "C" <= $2`

// orderBy is the reference's ORDER BY timestamp, ordinate, cron in SQLite's
// order: text byte-wise, NULLs the smallest values (the reference's Postgres
// SQL sorts ordinate and cron in the database's collation and NULLs last
// under ASC).
func orderBy(desc bool) string {
	dir := "ASC NULLS FIRST"
	if desc {
		dir = "DESC NULLS LAST"
	}
	return `timestamp ` + dir + `,
    ordinate COLLATE "C" ` + dir + `,
    cron COLLATE "C" ` + dir
}

// Evaluations runs the reference's findEvaluations query: After < id <=
// Through (byte-wise string order), optionally only crons, ordered by
// timestamp, ordinate (text), cron, ascending or descending, at most Limit
// rows.
//
// An empty After or Through is the reference's default bound for the whole
// process: "<pid>," and "<pid>,\U0010FFFF". Limit <= 0 means no limit.
func (s *Store) Evaluations(ctx context.Context, q ao.RangeQuery) ([]*ao.Evaluation, error) {
	after, through, err := rowcodec.EvaluationRange(q)
	if err != nil {
		return nil, fmt.Errorf("pgstore: evaluations: %w", err)
	}
	cronFilter := ""
	if q.OnlyCron {
		cronFilter = "AND cron IS NOT NULL"
	}
	var limit any // NULL: LIMIT ALL
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	query := `SELECT ` + evaluationCols + `
  FROM evaluations
  WHERE
    ` + idRange + `
    ` + cronFilter + `
  ORDER BY
    ` + orderBy(q.Desc) + `
  LIMIT $3;`
	rows, err := s.pool.Query(ctx, query, after, through, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: evaluations of %s: %w", q.ProcessID, err)
	}
	defer rows.Close()
	out, err := rowcodec.ScanEvaluations(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: evaluations of %s: %w", q.ProcessID, err)
	}
	return out, nil
}

// LatestEvaluation returns the process's greatest evaluation in (timestamp,
// ordinate, cron) order, or ao.ErrNotFound. The order is found on the key
// columns over the process's id range; only the winning row is read whole.
func (s *Store) LatestEvaluation(ctx context.Context, processID string) (*ao.Evaluation, error) {
	after, through := rowcodec.ProcessRange(processID)
	e, err := rowcodec.ScanEvaluation(s.pool.QueryRow(ctx, `SELECT `+evaluationCols+`
  FROM evaluations
  WHERE id = (
    SELECT id FROM evaluations
    WHERE `+idRange+`
    ORDER BY `+orderBy(true)+`
    LIMIT 1
  );`, after, through))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: latest evaluation of %s: %w", processID, ao.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: latest evaluation of %s: %w", processID, err)
	}
	return e, nil
}

// MessageSeenBefore runs the reference's findMessageBefore, quirk included:
// its first alternative compares the nonce part of seq to the epoch, so with
// epoch 0 it never matches and the query means "recorded for this process at
// a lower nonce of the same epoch". (id, processId) is the primary key, so
// the row is fetched by it and its seq tested in Go with SQLite's semantics
// (seqBefore).
func (s *Store) MessageSeenBefore(ctx context.Context, processID, id string, epoch, nonce int64) (bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq FROM messages WHERE id = $1 AND "processId" = $2;`, id, processID)
	if err != nil {
		return false, fmt.Errorf("pgstore: find message %s before %d:%d of %s: %w", id, epoch, nonce, processID, err)
	}
	defer rows.Close()
	seen := false
	for rows.Next() {
		var seq *string
		if err := rows.Scan(&seq); err != nil {
			return false, fmt.Errorf("pgstore: find message %s before %d:%d of %s: %w", id, epoch, nonce, processID, err)
		}
		// A NULL seq makes every comparison NULL in SQL: not seen.
		if seq != nil && seqBefore(*seq, epoch, nonce) {
			seen = true
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("pgstore: find message %s before %d:%d of %s: %w", id, epoch, nonce, processID, err)
	}
	return seen, nil
}

// ---- blocks ----

// blocksPerStatement is the reference's group of 250 rows of 3 parameters
// (far under PostgreSQL's 65535).
const blocksPerStatement = 250

// SaveBlocks inserts the blocks rows (id = height), ON CONFLICT DO NOTHING,
// in one transaction, by height (of two rows with one height, the first is
// inserted).
func (s *Store) SaveBlocks(ctx context.Context, blocks []ao.Block) error {
	if len(blocks) == 0 {
		return nil
	}
	blocks = slices.Clone(blocks)
	slices.SortStableFunc(blocks, func(a, b ao.Block) int { return cmp.Compare(a.Height, b.Height) })
	err := s.inTx(ctx, "save blocks", func(tx pgx.Tx) error {
		for rest := blocks; len(rest) > 0; {
			n := min(len(rest), blocksPerStatement)
			var q strings.Builder
			q.WriteString("INSERT INTO blocks (id, height, timestamp) VALUES ")
			args := make([]any, 0, 3*n)
			for i, b := range rest[:n] {
				if i > 0 {
					q.WriteString(",\n")
				}
				fmt.Fprintf(&q, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
				args = append(args, b.Height, b.Height, b.Timestamp)
			}
			q.WriteString(" ON CONFLICT DO NOTHING;")
			if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstore: save blocks: %w", err)
	}
	return nil
}

// Blocks returns the blocks with height >= minHeight and timestamp <=
// maxTimestamp (ms), ascending by height.
func (s *Store) Blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]ao.Block, error) {
	rows, err := s.pool.Query(ctx, `SELECT height, timestamp FROM blocks
  WHERE
    height >= $1
    AND timestamp <= $2
  ORDER BY height ASC`, minHeight, maxTimestamp)
	if err != nil {
		return nil, fmt.Errorf("pgstore: blocks from %d to %d: %w", minHeight, maxTimestamp, err)
	}
	defer rows.Close()
	out, err := rowcodec.ScanBlocks(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: blocks from %d to %d: %w", minHeight, maxTimestamp, err)
	}
	return out, nil
}
