package mu

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	_ "github.com/mattn/go-sqlite3" // SQLite driver
)

// Task kinds: one crank step each.
const (
	kindResult  = "result"  // GET {CU}/result/{message}?process-id={process}, then queue its outbox
	kindMessage = "message" // sign and post one outbox message
	kindSpawn   = "spawn"   // sign and post one outbox spawn (a Process item)
	kindSpawned = "spawned" // sign and post the Spawned message to the parent
	kindAssign  = "assign"  // post one assignment to a process's SU
)

// Task states (column done).
const (
	statePending = 0
	stateDone    = 1
	stateFailed  = 2 // gave up: a permanent error or out of attempts
)

// schema: the durable queue. A task's key is deterministic (the source
// message, process and outbox index), so queueing the same step twice is a
// no-op; item holds the signed data item from before its first post, so a
// retry posts the same bytes.
const schema = `
CREATE TABLE IF NOT EXISTS tasks (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	key        TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	lane       TEXT NOT NULL DEFAULT '',
	done       INTEGER NOT NULL DEFAULT 0,
	payload    BLOB NOT NULL,
	item       BLOB,
	item_id    TEXT NOT NULL DEFAULT '',
	root       TEXT NOT NULL,
	depth      INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_at    INTEGER NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (done, next_at, id);
CREATE INDEX IF NOT EXISTS tasks_lane ON tasks (lane, done, id);
CREATE TABLE IF NOT EXISTS roots (
	root  TEXT PRIMARY KEY,
	items INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS processes (
	id        TEXT PRIMARY KEY,
	scheduler TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitors (
	process_id TEXT PRIMARY KEY,
	cursor     TEXT,
	created_at INTEGER NOT NULL
);
`

// task is one row of the queue.
type task struct {
	ID       int64
	Key      string
	Kind     string
	Lane     string
	Payload  payload
	Item     []byte // the signed item, once recorded
	ItemID   string
	Root     string
	Depth    int
	Attempts int
}

// newTask is a task to queue.
type newTask struct {
	Key     string
	Kind    string
	Lane    string
	Payload payload
	Root    string
	Depth   int
}

// store is the MU's SQLite database (WAL). One connection: the writes are
// few and short, and a single connection never meets SQLITE_BUSY.
type store struct {
	db *sql.DB
	mu sync.Mutex // serialises transactions with the single connection
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mu: create data dir: %w", err)
	}
	path := filepath.Join(dir, "mu.sqlite")
	// synchronous=FULL: a step is acknowledged only once it is on disk.
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_synchronous=FULL&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("mu: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("mu: create schema in %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// tx runs f in a transaction.
func (s *store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("mu: begin: %w", err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mu: commit: %w", err)
	}
	return nil
}

// limits bound what enqueue accepts.
type limits struct {
	maxDepth, maxItemsPerRoot int
}

// dropped is a task enqueue refused, with the reason.
type dropped struct {
	Task   newTask
	Reason string // "max_depth" or "max_items"
}

// enqueue inserts tasks (a task whose key exists is skipped) within tx. A
// push task (any kind but result) deeper than maxDepth, or beyond
// maxItemsPerRoot pushes for its root, is dropped and returned.
func enqueue(ctx context.Context, tx *sql.Tx, now int64, lim limits, ts []newTask) (inserted int, drops []dropped, err error) {
	for _, t := range ts {
		push := t.Kind != kindResult
		if push && lim.maxDepth > 0 && t.Depth > lim.maxDepth {
			if exists, err := keyExists(ctx, tx, t.Key); err != nil {
				return 0, nil, err
			} else if !exists {
				drops = append(drops, dropped{t, "max_depth"})
			}
			continue
		}
		if push && lim.maxItemsPerRoot > 0 {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT items FROM roots WHERE root = ?`, t.Root).Scan(&n)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, nil, fmt.Errorf("mu: count items of %s: %w", t.Root, err)
			}
			if n >= lim.maxItemsPerRoot {
				if exists, err := keyExists(ctx, tx, t.Key); err != nil {
					return 0, nil, err
				} else if !exists {
					drops = append(drops, dropped{t, "max_items"})
				}
				continue
			}
		}
		pl, err := t.Payload.marshal()
		if err != nil {
			return 0, nil, err
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO tasks
			(key, kind, lane, payload, root, depth, next_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Key, t.Kind, t.Lane, pl, t.Root, t.Depth, now, now, now)
		if err != nil {
			return 0, nil, fmt.Errorf("mu: queue %s: %w", t.Key, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		inserted++
		if push {
			if _, err := tx.ExecContext(ctx, `INSERT INTO roots (root, items) VALUES (?, 1)
				ON CONFLICT (root) DO UPDATE SET items = items + 1`, t.Root); err != nil {
				return 0, nil, fmt.Errorf("mu: count items of %s: %w", t.Root, err)
			}
		}
	}
	return inserted, drops, nil
}

func keyExists(ctx context.Context, tx *sql.Tx, key string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM tasks WHERE key = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mu: look up task %s: %w", key, err)
	}
	return true, nil
}

// add queues tasks in a transaction of their own.
func (s *store) add(ctx context.Context, now int64, lim limits, ts []newTask) (int, []dropped, error) {
	var (
		n     int
		drops []dropped
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, drops, err = enqueue(ctx, tx, now, lim, ts)
		return err
	})
	return n, drops, err
}

const taskCols = `id, key, kind, lane, payload, item, item_id, root, depth, attempts`

func scanTask(sc interface{ Scan(...any) error }) (*task, error) {
	var (
		t  task
		pl []byte
	)
	if err := sc.Scan(&t.ID, &t.Key, &t.Kind, &t.Lane, &pl, &t.Item, &t.ItemID, &t.Root, &t.Depth, &t.Attempts); err != nil {
		return nil, err
	}
	if err := t.Payload.unmarshal(pl); err != nil {
		return nil, fmt.Errorf("mu: task %s: %w", t.Key, err)
	}
	return &t, nil
}

// claimable returns up to limit tasks that may run now, oldest first: pending,
// due, and first of their lane (a lane keeps the posts to one process in
// queue order). It also returns the earliest due time of the pending lane
// heads (0: none).
func (s *store) claimable(ctx context.Context, now int64, limit int) ([]*task, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	const heads = ` FROM tasks t WHERE t.done = 0 AND (t.lane = '' OR t.id = (
		SELECT MIN(u.id) FROM tasks u WHERE u.lane = t.lane AND u.done = 0))`
	rows, err := s.db.QueryContext(ctx, `SELECT `+prefixed(taskCols, "t.")+heads+` AND t.next_at <= ? ORDER BY t.id LIMIT ?`, now, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("mu: read queue: %w", err)
	}
	defer rows.Close()
	var out []*task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("mu: read queue: %w", err)
	}
	rows.Close() // frees the one connection for the next query
	var next sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MIN(t.next_at)`+heads+` AND t.next_at > ?`, now).Scan(&next); err != nil {
		return nil, 0, fmt.Errorf("mu: read queue: %w", err)
	}
	return out, next.Int64, nil
}

func prefixed(cols, p string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// setItem records the signed item of a task before its first post. It
// returns the recorded item: the one given, or one recorded before.
func (s *store) setItem(ctx context.Context, id int64, item []byte, itemID string, now int64) ([]byte, string, error) {
	var (
		got   []byte
		gotID string
	)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET item = ?, item_id = ?, updated_at = ? WHERE id = ? AND item IS NULL`,
			item, itemID, now, id); err != nil {
			return fmt.Errorf("mu: record item %s: %w", itemID, err)
		}
		return tx.QueryRowContext(ctx, `SELECT item, item_id FROM tasks WHERE id = ?`, id).Scan(&got, &gotID)
	})
	return got, gotID, err
}

// finish marks a task done and queues its follow-ups, atomically.
func (s *store) finish(ctx context.Context, id int64, itemID string, now int64, lim limits, next []newTask) ([]dropped, error) {
	var drops []dropped
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE tasks SET done = ?, item_id = CASE WHEN ? = '' THEN item_id ELSE ? END,
			last_error = '', updated_at = ? WHERE id = ?`, stateDone, itemID, itemID, now, id); err != nil {
			return fmt.Errorf("mu: finish task %d: %w", id, err)
		}
		var err error
		_, drops, err = enqueue(ctx, tx, now, lim, next)
		return err
	})
	return drops, err
}

// retry schedules another attempt of a task.
func (s *store) retry(ctx context.Context, id int64, attempts int, nextAt, now int64, cause string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE tasks SET attempts = ?, next_at = ?, last_error = ?, updated_at = ? WHERE id = ?`,
			attempts, nextAt, cause, now, id)
		if err != nil {
			return fmt.Errorf("mu: reschedule task %d: %w", id, err)
		}
		return nil
	})
}

// fail gives up on a task; it stays in the table (POST /push can revive a
// message).
func (s *store) fail(ctx context.Context, id int64, attempts int, now int64, cause string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE tasks SET done = ?, attempts = ?, last_error = ?, updated_at = ? WHERE id = ?`,
			stateFailed, attempts, cause, now, id)
		if err != nil {
			return fmt.Errorf("mu: fail task %d: %w", id, err)
		}
		return nil
	})
}

// revive makes a task with this key pending again (due now, attempts reset),
// keeping its recorded item, or queues t if there is none. It reports whether
// a task existed.
func (s *store) revive(ctx context.Context, now int64, lim limits, t newTask) (existed bool, drops []dropped, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tasks SET done = 0, attempts = 0, next_at = ?, updated_at = ? WHERE key = ?`, now, now, t.Key)
		if err != nil {
			return fmt.Errorf("mu: revive %s: %w", t.Key, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			existed = true
			return nil
		}
		_, drops, err = enqueue(ctx, tx, now, lim, []newTask{t})
		return err
	})
	return existed, drops, err
}

// taskByKey reads a task (nil if none) and its state.
func (s *store) taskByKey(ctx context.Context, key string) (*task, int, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		state int
		cause string
	)
	row := s.db.QueryRowContext(ctx, `SELECT `+taskCols+`, done, last_error FROM tasks WHERE key = ?`, key)
	var (
		t  task
		pl []byte
	)
	err := row.Scan(&t.ID, &t.Key, &t.Kind, &t.Lane, &pl, &t.Item, &t.ItemID, &t.Root, &t.Depth, &t.Attempts, &state, &cause)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, "", nil
	}
	if err != nil {
		return nil, 0, "", fmt.Errorf("mu: task %s: %w", key, err)
	}
	if err := t.Payload.unmarshal(pl); err != nil {
		return nil, 0, "", err
	}
	return &t, state, cause, nil
}

// pending counts the tasks not finished.
func (s *store) pending(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks WHERE done = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("mu: count pending tasks: %w", err)
	}
	return n, nil
}

// rememberProcess records a process's scheduler address.
func (s *store) rememberProcess(ctx context.Context, id, scheduler string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO processes (id, scheduler) VALUES (?, ?)`, id, scheduler)
		if err != nil {
			return fmt.Errorf("mu: remember process %s: %w", id, err)
		}
		return nil
	})
}

// processScheduler returns a process's recorded scheduler address ("" if
// unknown).
func (s *store) processScheduler(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sched string
	err := s.db.QueryRowContext(ctx, `SELECT scheduler FROM processes WHERE id = ?`, id).Scan(&sched)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("mu: scheduler of %s: %w", id, err)
	}
	return sched, nil
}

// monitor is a monitored process and its cron cursor ("" before the first).
type monitor struct {
	ProcessID string
	Cursor    string
	HasCursor bool
}

func (s *store) addMonitor(ctx context.Context, pid string, now int64) (bool, error) {
	var added bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO monitors (process_id, created_at) VALUES (?, ?)`, pid, now)
		if err != nil {
			return fmt.Errorf("mu: monitor %s: %w", pid, err)
		}
		n, _ := res.RowsAffected()
		added = n > 0
		return nil
	})
	return added, err
}

func (s *store) deleteMonitor(ctx context.Context, pid string) (bool, error) {
	var deleted bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM monitors WHERE process_id = ?`, pid)
		if err != nil {
			return fmt.Errorf("mu: stop monitoring %s: %w", pid, err)
		}
		n, _ := res.RowsAffected()
		deleted = n > 0
		return nil
	})
	return deleted, err
}

func (s *store) monitors(ctx context.Context) ([]monitor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.db.QueryContext(ctx, `SELECT process_id, cursor FROM monitors ORDER BY created_at, process_id`)
	if err != nil {
		return nil, fmt.Errorf("mu: read monitors: %w", err)
	}
	defer rows.Close()
	var out []monitor
	for rows.Next() {
		var (
			m monitor
			c sql.NullString
		)
		if err := rows.Scan(&m.ProcessID, &c); err != nil {
			return nil, fmt.Errorf("mu: read monitors: %w", err)
		}
		m.Cursor, m.HasCursor = c.String, c.Valid
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mu: read monitors: %w", err)
	}
	return out, nil
}

// advanceMonitor sets a monitor's cursor and queues the cranks of the cron
// results up to it, atomically. A monitor deleted meanwhile is left alone.
func (s *store) advanceMonitor(ctx context.Context, pid, cursor string, now int64, lim limits, ts []newTask) ([]dropped, error) {
	var drops []dropped
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE monitors SET cursor = ? WHERE process_id = ?`, cursor, pid)
		if err != nil {
			return fmt.Errorf("mu: advance monitor %s: %w", pid, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		_, drops, err = enqueue(ctx, tx, now, lim, ts)
		return err
	})
	return drops, err
}
