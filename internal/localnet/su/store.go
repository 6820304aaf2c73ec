package su

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	_ "github.com/mattn/go-sqlite3" // SQLite driver
)

// schema: one row per assignment. The process itself is the row at nonce 0
// whose message_id is the process id (AOP-6).
const schema = `
CREATE TABLE IF NOT EXISTS processes (
	id        TEXT PRIMARY KEY,
	timestamp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
	process_id    TEXT NOT NULL,
	nonce         INTEGER NOT NULL,
	epoch         INTEGER NOT NULL,
	timestamp     INTEGER NOT NULL,
	hash_chain    TEXT NOT NULL,
	assignment_id TEXT NOT NULL UNIQUE,
	message_id    TEXT NOT NULL,
	assignment    BLOB NOT NULL,
	message       BLOB,
	PRIMARY KEY (process_id, nonce)
);
CREATE INDEX IF NOT EXISTS assignments_message ON assignments (message_id);
CREATE INDEX IF NOT EXISTS assignments_ts ON assignments (process_id, timestamp);
CREATE TABLE IF NOT EXISTS deep_hashes (
	process_id TEXT NOT NULL,
	hash       TEXT NOT NULL,
	PRIMARY KEY (process_id, hash)
);
CREATE TABLE IF NOT EXISTS pending_uploads (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	item BLOB NOT NULL
);
`

// row is one stored assignment (and its message, if the SU holds it).
type row struct {
	ProcessID    string
	Nonce        int64
	Epoch        int64
	Timestamp    int64
	HashChain    string
	AssignmentID string
	MessageID    string
	Assignment   []byte
	Message      []byte // nil for an assignment of an existing tx
}

type store struct {
	db *sql.DB
	// writeMu serialises writers in Go. Concurrent BEGIN IMMEDIATE would
	// otherwise meet SQLITE_BUSY and SQLite's busy handler, which sleeps in
	// steps of up to 100 ms: with 8 writers on 8 processes that gave a POST
	// p99 of ~1.6 s (tools/localnet-bench).
	writeMu sync.Mutex
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("su: create data dir: %w", err)
	}
	path := filepath.Join(dir, "su.sqlite")
	// synchronous=FULL: a reply is sent only after the commit is on disk.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_synchronous=FULL&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("su: open %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("su: create schema: %w", err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

const rowCols = `process_id, nonce, epoch, timestamp, hash_chain, assignment_id, message_id, assignment, message`

func scanRow(sc interface{ Scan(...any) error }) (*row, error) {
	var r row
	if err := sc.Scan(&r.ProcessID, &r.Nonce, &r.Epoch, &r.Timestamp, &r.HashChain, &r.AssignmentID, &r.MessageID, &r.Assignment, &r.Message); err != nil {
		return nil, err
	}
	return &r, nil
}

// processExists reports whether pid was spawned here.
func (s *store) processExists(ctx context.Context, pid string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM processes WHERE id = ?`, pid).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("su: look up process %s: %w", pid, err)
	}
	return n > 0, nil
}

// latest is the process's last assignment, nil if there is none.
func (s *store) latest(ctx context.Context, pid string) (*row, error) {
	r, err := scanRow(s.db.QueryRowContext(ctx, `SELECT `+rowCols+` FROM assignments WHERE process_id = ? ORDER BY nonce DESC LIMIT 1`, pid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("su: latest assignment of %s: %w", pid, err)
	}
	return r, nil
}

// messageExists reports whether the process already holds a message item
// with this id.
func (s *store) messageExists(ctx context.Context, pid, id string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM assignments WHERE message_id = ? AND process_id = ? AND message IS NOT NULL`, id, pid).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("su: look up message %s: %w", id, err)
	}
	return n > 0, nil
}

func (s *store) deepHashExists(ctx context.Context, pid string, hashes ...string) (bool, error) {
	for _, h := range hashes {
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM deep_hashes WHERE process_id = ? AND hash = ?`, pid, h).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("su: look up deep hash: %w", err)
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}

// txExec is what insertOne needs of a transaction.
type txExec interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// withTx runs f in one write transaction and commits it (durably:
// synchronous=FULL).
func (s *store) withTx(ctx context.Context, f func(txExec) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("su: begin: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("su: commit: %w", err)
	}
	return nil
}

// insertOne writes an assignment (with its process row for nonce 0 of a
// spawn, its deep hash if any, and the items to upload) within tx, under a
// savepoint: on error nothing of it stays in the transaction.
func insertOne(ctx context.Context, tx txExec, c *commitReq) (err error) {
	r := c.row
	if _, err := tx.ExecContext(ctx, `SAVEPOINT assignment`); err != nil {
		return fmt.Errorf("su: savepoint: %w", err)
	}
	defer func() {
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO assignment`); rerr != nil {
				err = fmt.Errorf("%w (and roll back: %v)", err, rerr)
			}
		}
		if _, rerr := tx.ExecContext(ctx, `RELEASE assignment`); rerr != nil && err == nil {
			err = fmt.Errorf("su: release savepoint: %w", rerr)
		}
	}()
	if c.isProcess {
		if _, err := tx.ExecContext(ctx, `INSERT INTO processes (id, timestamp) VALUES (?, ?)`, r.ProcessID, r.Timestamp); err != nil {
			return fmt.Errorf("su: insert process %s: %w", r.ProcessID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO assignments (`+rowCols+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		r.ProcessID, r.Nonce, r.Epoch, r.Timestamp, r.HashChain, r.AssignmentID, r.MessageID, r.Assignment, r.Message); err != nil {
		return fmt.Errorf("su: insert assignment %d of %s: %w", r.Nonce, r.ProcessID, err)
	}
	if c.deepHash != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO deep_hashes (process_id, hash) VALUES (?, ?)`, r.ProcessID, c.deepHash); err != nil {
			return fmt.Errorf("su: insert deep hash: %w", err)
		}
	}
	for _, u := range c.uploads {
		res, err := tx.ExecContext(ctx, `INSERT INTO pending_uploads (item) VALUES (?)`, u)
		if err != nil {
			return fmt.Errorf("su: queue upload: %w", err)
		}
		if c.uploadSeq, err = res.LastInsertId(); err != nil {
			return fmt.Errorf("su: queue upload: %w", err)
		}
	}
	return nil
}

// byNonce returns the assignment at nonce.
func (s *store) byNonce(ctx context.Context, pid string, nonce int64) (*row, error) {
	r, err := scanRow(s.db.QueryRowContext(ctx, `SELECT `+rowCols+` FROM assignments WHERE process_id = ? AND nonce = ?`, pid, nonce))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("su: assignment %d of %s: %w", nonce, pid, err)
	}
	return r, nil
}

// message finds an assignment by message id or assignment id, optionally
// within one process (process rows are not messages).
func (s *store) message(ctx context.Context, id, pid string) (*row, error) {
	// Two indexed lookups: with OR, SQLite scans the process's rows.
	by := func(col, index string) string {
		q := `SELECT ` + rowCols + ` FROM assignments` + index + ` WHERE ` + col + ` = ? AND message_id != process_id`
		if pid != "" {
			q += ` AND process_id = ?`
		}
		return q
	}
	args := []any{id}
	if pid != "" {
		args = append(args, pid)
	}
	args = append(args, args...)
	q := by("message_id", " INDEXED BY assignments_message") + ` UNION ALL ` + by("assignment_id", "") // assignment_id is UNIQUE
	r, err := scanRow(s.db.QueryRowContext(ctx, q+` ORDER BY timestamp LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("su: message %s: %w", id, err)
	}
	return r, nil
}

// messageRange returns up to limit messages (nonce >= 1) of pid with
// from < key <= to (either bound optional), in nonce order. The key is the
// assignment timestamp, or the nonce when byNonce is set.
func (s *store) messageRange(ctx context.Context, pid string, byNonce bool, from, to *int64, limit int) ([]*row, error) {
	col := "timestamp"
	if byNonce {
		col = "nonce"
	}
	q := `SELECT ` + rowCols + ` FROM assignments`
	if !byNonce && from != nil {
		// The rows after `from` by their timestamp, not every row of the
		// process in nonce order checked one by one.
		q += ` INDEXED BY assignments_ts`
	}
	q += ` WHERE process_id = ? AND nonce >= 1`
	args := []any{pid}
	if from != nil {
		q += ` AND ` + col + ` > ?`
		args = append(args, *from)
	}
	if to != nil {
		q += ` AND ` + col + ` <= ?`
		args = append(args, *to)
	}
	q += ` ORDER BY nonce LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("su: messages of %s: %w", pid, err)
	}
	defer rows.Close()
	var out []*row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("su: scan message of %s: %w", pid, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("su: messages of %s: %w", pid, err)
	}
	return out, nil
}

func (s *store) processIDs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM processes ORDER BY timestamp, id`)
	if err != nil {
		return nil, fmt.Errorf("su: list processes: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("su: list processes: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

type pending struct {
	seq  int64
	item []byte
}

func (s *store) pendingUploads(ctx context.Context, limit int) ([]pending, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, item FROM pending_uploads ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("su: pending uploads: %w", err)
	}
	defer rows.Close()
	var out []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.item); err != nil {
			return nil, fmt.Errorf("su: pending uploads: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// uploadsDone removes posted items from the queue, in one transaction.
func (s *store) uploadsDone(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.withTx(ctx, func(tx txExec) error {
		for _, seq := range seqs {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pending_uploads WHERE seq = ?`, seq); err != nil {
				return fmt.Errorf("su: mark upload %d done: %w", seq, err)
			}
		}
		return nil
	})
}
