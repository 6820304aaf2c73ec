package gateway

import (
	"context"
	"crypto/sha512"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aocu/aocu/internal/arweave"
	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver
)

// dbFile is the SQLite file the gateway keeps under Config.DataDir.
const dbFile = "gateway.sqlite"

const schemaSQL = `
CREATE TABLE IF NOT EXISTS blocks (
	height    INTEGER PRIMARY KEY,
	id        TEXT NOT NULL UNIQUE,
	timestamp INTEGER NOT NULL,
	previous  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT NOT NULL UNIQUE,
	raw          BLOB NOT NULL,
	data_offset  INTEGER NOT NULL,
	data_size    INTEGER NOT NULL,
	owner        TEXT NOT NULL,
	owner_addr   TEXT NOT NULL,
	target       TEXT NOT NULL,
	anchor       TEXT NOT NULL,
	signature    TEXT NOT NULL,
	sig_type     INTEGER NOT NULL,
	content_type TEXT,
	parent       TEXT,
	height       INTEGER,
	ingested_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_owner ON items(owner_addr);
CREATE INDEX IF NOT EXISTS items_target ON items(target);
CREATE INDEX IF NOT EXISTS items_height ON items(height);
CREATE INDEX IF NOT EXISTS items_parent ON items(parent);
CREATE TABLE IF NOT EXISTS tags (
	item_seq INTEGER NOT NULL REFERENCES items(seq),
	idx      INTEGER NOT NULL,
	name     TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (item_seq, idx)
);
CREATE INDEX IF NOT EXISTS tags_name_value ON tags(name, value);
`

// store is the gateway's SQLite database: blocks, data items and their tags.
//
// Items are numbered (seq) in arrival order and every mined block takes all
// pending items, so seq order is also (block height, arrival) order; the
// GraphQL sort and cursors rely on that.
type store struct {
	db *sql.DB
}

func openStore(ctx context.Context, dir string) (*store, error) {
	path := filepath.Join(dir, dbFile)
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_synchronous=NORMAL&_foreign_keys=on&_txlock=immediate"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("gateway: open %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schemaSQL); err != nil {
		db.Close()
		return nil, fmt.Errorf("gateway: create schema in %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// block is a simulated Arweave block.
type block struct {
	Height    int64
	ID        string
	Timestamp int64 // seconds
	Previous  string
}

func blockID(prev string, height, ts int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(height))
	binary.BigEndian.PutUint64(b[8:], uint64(ts))
	sum := sha512.Sum384(append([]byte(prev), b[:]...))
	return arweave.B64Encode(sum[:])
}

// ensureGenesis creates block 0 if the chain is empty.
func (s *store) ensureGenesis(ctx context.Context, now time.Time) error {
	if _, err := s.latestBlock(ctx); err == nil {
		return nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	_, err := s.mine(ctx, now)
	return err
}

func (s *store) latestBlock(ctx context.Context) (block, error) {
	var b block
	err := s.db.QueryRowContext(ctx, `SELECT height, id, timestamp, previous FROM blocks ORDER BY height DESC LIMIT 1`).
		Scan(&b.Height, &b.ID, &b.Timestamp, &b.Previous)
	if err != nil {
		return b, fmt.Errorf("gateway: read the latest block: %w", err)
	}
	return b, nil
}

// blockBy reads a block by height (byID false) or id.
func (s *store) blockBy(ctx context.Context, height int64, id string) (block, bool, error) {
	var b block
	q, arg := `SELECT height, id, timestamp, previous FROM blocks WHERE height = ?`, any(height)
	if id != "" {
		q, arg = `SELECT height, id, timestamp, previous FROM blocks WHERE id = ?`, id
	}
	err := s.db.QueryRowContext(ctx, q, arg).Scan(&b.Height, &b.ID, &b.Timestamp, &b.Previous)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	if err != nil {
		return b, false, fmt.Errorf("gateway: read block: %w", err)
	}
	return b, true, nil
}

// blocksAt reads the blocks at the given heights.
func (s *store) blocksAt(ctx context.Context, heights []int64) (map[int64]block, error) {
	out := make(map[int64]block, len(heights))
	if len(heights) == 0 {
		return out, nil
	}
	args := make([]any, len(heights))
	for i, h := range heights {
		args[i] = h
	}
	rows, err := s.db.QueryContext(ctx, `SELECT height, id, timestamp, previous FROM blocks WHERE height IN (`+
		placeholders(len(heights))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("gateway: read blocks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b block
		if err := rows.Scan(&b.Height, &b.ID, &b.Timestamp, &b.Previous); err != nil {
			return nil, fmt.Errorf("gateway: read blocks: %w", err)
		}
		out[b.Height] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("gateway: read blocks: %w", err)
	}
	return out, nil
}

// mine appends a block holding every pending item. Timestamps never go
// backwards (several blocks mined in one second share the timestamp).
func (s *store) mine(ctx context.Context, now time.Time) (block, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return block{}, fmt.Errorf("gateway: mine: %w", err)
	}
	defer tx.Rollback()
	b := block{Height: 0, Timestamp: now.Unix()}
	var prev block
	err = tx.QueryRowContext(ctx, `SELECT height, id, timestamp FROM blocks ORDER BY height DESC LIMIT 1`).
		Scan(&prev.Height, &prev.ID, &prev.Timestamp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return block{}, fmt.Errorf("gateway: mine: read the previous block: %w", err)
	default:
		b.Height = prev.Height + 1
		b.Previous = prev.ID
		b.Timestamp = max(b.Timestamp, prev.Timestamp)
	}
	b.ID = blockID(b.Previous, b.Height, b.Timestamp)
	if _, err := tx.ExecContext(ctx, `INSERT INTO blocks (height, id, timestamp, previous) VALUES (?, ?, ?, ?)`,
		b.Height, b.ID, b.Timestamp, b.Previous); err != nil {
		return block{}, fmt.Errorf("gateway: mine block %d: %w", b.Height, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE items SET height = ? WHERE height IS NULL`, b.Height); err != nil {
		return block{}, fmt.Errorf("gateway: mine block %d: %w", b.Height, err)
	}
	if err := tx.Commit(); err != nil {
		return block{}, fmt.Errorf("gateway: mine block %d: commit: %w", b.Height, err)
	}
	return b, nil
}

// anchorString renders an anchor as ao uses it: the bytes as a string when
// they are printable UTF-8 (ao anchors are 32-character strings), otherwise
// base64url.
func anchorString(a []byte) string {
	if utf8.Valid(a) && !strings.ContainsFunc(string(a), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return string(a)
	}
	return arweave.B64Encode(a)
}

// insertResult tells whether an item was new and when it was first ingested.
type insertResult struct {
	ID         string
	IngestedMS int64
	Duplicate  bool
}

// insert stores verified items in one transaction; items already stored are
// left alone (idempotent). parents[i] is "" or the id of items[i]'s bundle.
func (s *store) insert(ctx context.Context, items []*arweave.DataItem, parents []string, now time.Time) ([]insertResult, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("gateway: store items: %w", err)
	}
	defer tx.Rollback()
	out := make([]insertResult, len(items))
	for i, d := range items {
		id := d.ID()
		var ingested int64
		err := tx.QueryRowContext(ctx, `SELECT ingested_at FROM items WHERE id = ?`, id).Scan(&ingested)
		if err == nil {
			out[i] = insertResult{ID: id, IngestedMS: ingested, Duplicate: true}
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("gateway: store item %s: %w", id, err)
		}
		raw, err := d.Bytes()
		if err != nil {
			return nil, fmt.Errorf("gateway: store item %s: encode: %w", id, err)
		}
		var ct sql.NullString
		if v, ok := d.TagValue("Content-Type"); ok {
			ct = sql.NullString{String: v, Valid: true}
		}
		var parent sql.NullString
		if parents[i] != "" {
			parent = sql.NullString{String: parents[i], Valid: true}
		}
		target := ""
		if len(d.Target) > 0 {
			target = arweave.B64Encode(d.Target)
		}
		ms := now.UnixMilli()
		res, err := tx.ExecContext(ctx, `INSERT INTO items
			(id, raw, data_offset, data_size, owner, owner_addr, target, anchor, signature, sig_type, content_type, parent, height, ingested_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
			id, raw, len(raw)-len(d.Data), len(d.Data), arweave.B64Encode(d.Owner), d.OwnerAddress(), target,
			anchorString(d.Anchor), arweave.B64Encode(d.Signature), d.SignatureType, ct, parent, ms)
		if err != nil {
			return nil, fmt.Errorf("gateway: store item %s: %w", id, err)
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("gateway: store item %s: %w", id, err)
		}
		for j, t := range d.Tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tags (item_seq, idx, name, value) VALUES (?, ?, ?, ?)`,
				seq, j, t.Name, t.Value); err != nil {
				return nil, fmt.Errorf("gateway: store item %s: tag %d: %w", id, j, err)
			}
		}
		out[i] = insertResult{ID: id, IngestedMS: ms}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("gateway: store items: commit: %w", err)
	}
	return out, nil
}

// item is a stored data item as the routes and GraphQL see it.
type item struct {
	Seq         int64
	ID          string
	Raw         []byte // only when loaded with raw
	DataOffset  int64
	DataSize    int64
	Owner       string // base64url
	OwnerAddr   string
	Target      string // base64url or ""
	Anchor      string
	Signature   string // base64url
	SigType     int
	ContentType sql.NullString
	Parent      sql.NullString
	Height      sql.NullInt64
	IngestedMS  int64
	Tags        []arweave.Tag
}

// Data is the item's data; the item must have been loaded with raw.
func (it *item) Data() []byte { return it.Raw[it.DataOffset:] }

const itemCols = `seq, id, data_offset, data_size, owner, owner_addr, target, anchor, signature, sig_type, content_type, parent, height, ingested_at`

func scanItem(sc interface{ Scan(...any) error }, it *item, extra ...any) error {
	return sc.Scan(append([]any{&it.Seq, &it.ID, &it.DataOffset, &it.DataSize, &it.Owner, &it.OwnerAddr, &it.Target,
		&it.Anchor, &it.Signature, &it.SigType, &it.ContentType, &it.Parent, &it.Height, &it.IngestedMS}, extra...)...)
}

// getItem reads one item with its tags (and raw bytes when withRaw).
func (s *store) getItem(ctx context.Context, id string, withRaw bool) (*item, bool, error) {
	it := &item{}
	var err error
	if withRaw {
		err = scanItem(s.db.QueryRowContext(ctx, `SELECT `+itemCols+`, raw FROM items WHERE id = ?`, id), it, &it.Raw)
	} else {
		err = scanItem(s.db.QueryRowContext(ctx, `SELECT `+itemCols+` FROM items WHERE id = ?`, id), it)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("gateway: read item %s: %w", id, err)
	}
	if err := s.loadTags(ctx, []*item{it}); err != nil {
		return nil, false, err
	}
	return it, true, nil
}

func (s *store) loadTags(ctx context.Context, items []*item) error {
	if len(items) == 0 {
		return nil
	}
	bySeq := make(map[int64]*item, len(items))
	args := make([]any, len(items))
	for i, it := range items {
		bySeq[it.Seq] = it
		args[i] = it.Seq
	}
	rows, err := s.db.QueryContext(ctx, `SELECT item_seq, name, value FROM tags WHERE item_seq IN (`+
		placeholders(len(items))+`) ORDER BY item_seq, idx`, args...)
	if err != nil {
		return fmt.Errorf("gateway: read tags: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var t arweave.Tag
		if err := rows.Scan(&seq, &t.Name, &t.Value); err != nil {
			return fmt.Errorf("gateway: read tags: %w", err)
		}
		bySeq[seq].Tags = append(bySeq[seq].Tags, t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("gateway: read tags: %w", err)
	}
	return nil
}

// jsonList is a list of strings passed as one JSON array parameter
// (jsonArray), so a filter may hold any number of values (SQLite allows at
// most 32,766 parameters).
const jsonList = `(SELECT value FROM json_each(?))`

func jsonArray(vals []string) string {
	b, _ := json.Marshal(vals) // a []string always marshals
	return string(b)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// tagFilter matches items with a tag called Name (any name when nil) whose
// value is one of Values (any value when empty), or, with Not, none of Values.
type tagFilter struct {
	Name   *string
	Values []string
	Not    bool
}

// txQuery is a GraphQL transactions() query.
type txQuery struct {
	IDs, Owners, Recipients, BundledIn []string
	Tags                               []tagFilter
	MinHeight, MaxHeight               *int64
	MinIngested, MaxIngested           *int64 // seconds
	page                                      // After: seq of the last item seen
}

// page is the paging part of a query: order, cursor, size.
type page struct {
	Desc  bool
	After *int64
	First int
}

// driveBound bounds the items counted to choose how a query reads them.
const driveBound = 1000

// indexedFilter is a filter of a transactions() query with an index: a
// column of items, or a tag name with values.
type indexedFilter struct {
	col  string // the items column, or "" for the tag filter q.Tags[tag]
	vals []string
	tag  int
}

// drivingTag returns the index in q.Tags of the tag filter the query should
// read its items through, or -1 to leave the choice to SQLite. Without the
// statistics SQLite has no way to know that a wallet (an SU's: every
// assignment it signed) owns tens of thousands of items of which one has the
// tag asked for (its Scheduler-Location), so it reads every item of the
// wallet. Each indexed filter's items are counted up to driveBound, and a
// tag filter with the fewest (fewer than the bound) drives the query.
func (s *store) drivingTag(ctx context.Context, q txQuery) (int, error) {
	if q.IDs != nil { // a few ids: SQLite reads them by their index
		return -1, nil
	}
	var filters []indexedFilter
	for _, f := range []indexedFilter{{col: "owner_addr", vals: q.Owners}, {col: "target", vals: q.Recipients}, {col: "parent", vals: q.BundledIn}} {
		if len(f.vals) > 0 {
			filters = append(filters, f)
		}
	}
	for i, t := range q.Tags {
		if t.Name != nil && len(t.Values) > 0 && !t.Not {
			filters = append(filters, indexedFilter{vals: t.Values, tag: i})
		}
	}
	if len(filters) < 2 && (len(filters) == 0 || filters[0].col != "") {
		return -1, nil // no tag filter, or the only index SQLite can use
	}
	best, fewest := -1, driveBound
	for _, f := range filters {
		sub := `SELECT 1 FROM items WHERE ` + f.col + ` IN ` + jsonList
		args := []any{jsonArray(f.vals)}
		if f.col == "" {
			sub = `SELECT 1 FROM tags WHERE name = ? AND value IN ` + jsonList
			args = []any{*q.Tags[f.tag].Name, jsonArray(f.vals)}
		}
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (`+sub+` LIMIT ?)`, append(args, driveBound)...).Scan(&n); err != nil {
			return -1, fmt.Errorf("gateway: count items of a filter: %w", err)
		}
		if n < fewest {
			fewest = n
			best = -1
			if f.col == "" {
				best = f.tag
			}
		}
	}
	return best, nil
}

// queryItems returns up to q.First items matching q, and whether more follow.
func (s *store) queryItems(ctx context.Context, q txQuery) ([]*item, bool, error) {
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil, false, nil
	}
	sqlText, args, err := s.itemsSQL(ctx, q)
	if err != nil {
		return nil, false, err
	}
	out, more, err := queryPage(ctx, s.db, "transactions", sqlText, args, q.First, func(rows *sql.Rows) (*item, error) {
		it := &item{}
		return it, scanItem(rows, it)
	})
	if err != nil {
		return nil, false, err
	}
	if err := s.loadTags(ctx, out); err != nil {
		return nil, false, err
	}
	return out, more, nil
}

// itemsSQL is the SELECT of q's items (q.IDs nil or not empty).
func (s *store) itemsSQL(ctx context.Context, q txQuery) (string, []any, error) {
	drive, err := s.drivingTag(ctx, q)
	if err != nil {
		return "", nil, err
	}
	var where []string
	var args []any
	in := func(col string, vals []string) {
		if drive >= 0 {
			col = "+" + col // (no index: the tag filter drives)
		}
		where = append(where, col+` IN `+jsonList)
		args = append(args, jsonArray(vals))
	}
	if q.IDs != nil {
		in("id", q.IDs)
	}
	if len(q.Owners) > 0 {
		in("owner_addr", q.Owners)
	}
	if len(q.Recipients) > 0 {
		in("target", q.Recipients)
	}
	if len(q.BundledIn) > 0 {
		in("parent", q.BundledIn)
	}
	for i, t := range q.Tags {
		if i == drive {
			where = append(where, `seq IN (SELECT item_seq FROM tags WHERE name = ? AND value IN `+jsonList+`)`)
			args = append(args, *t.Name, jsonArray(t.Values))
			continue
		}
		c := `EXISTS (SELECT 1 FROM tags t WHERE t.item_seq = items.seq`
		if t.Name != nil {
			c += ` AND t.name = ?`
			args = append(args, *t.Name)
		}
		if len(t.Values) > 0 {
			op := ` IN `
			if t.Not {
				op = ` NOT IN `
			}
			c += ` AND t.value` + op + jsonList
			args = append(args, jsonArray(t.Values))
		}
		where = append(where, c+`)`)
	}
	if q.MinHeight != nil {
		where = append(where, `height >= ?`)
		args = append(args, *q.MinHeight)
	}
	if q.MaxHeight != nil {
		where = append(where, `height <= ?`)
		args = append(args, *q.MaxHeight)
	}
	if q.MinIngested != nil {
		where = append(where, `ingested_at >= ?`)
		args = append(args, *q.MinIngested*1000)
	}
	if q.MaxIngested != nil {
		where = append(where, `ingested_at < ?`)
		args = append(args, (*q.MaxIngested+1)*1000)
	}
	order := `seq ASC`
	if q.After != nil {
		if q.Desc {
			where = append(where, `seq < ?`)
		} else {
			where = append(where, `seq > ?`)
		}
		args = append(args, *q.After)
	}
	if q.Desc {
		order = `seq DESC`
	}
	sqlText := `SELECT ` + itemCols + ` FROM items`
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sqlText += ` ORDER BY ` + order + ` LIMIT ?`
	return sqlText, append(args, q.First+1), nil
}

// blockQuery is a GraphQL blocks() query.
type blockQuery struct {
	IDs                  []string
	MinHeight, MaxHeight *int64
	page                 // After: height of the last block seen
}

func (s *store) queryBlocks(ctx context.Context, q blockQuery) ([]block, bool, error) {
	var where []string
	var args []any
	if q.IDs != nil {
		if len(q.IDs) == 0 {
			return nil, false, nil
		}
		where = append(where, `id IN `+jsonList)
		args = append(args, jsonArray(q.IDs))
	}
	if q.MinHeight != nil {
		where = append(where, `height >= ?`)
		args = append(args, *q.MinHeight)
	}
	if q.MaxHeight != nil {
		where = append(where, `height <= ?`)
		args = append(args, *q.MaxHeight)
	}
	if q.After != nil {
		if q.Desc {
			where = append(where, `height < ?`)
		} else {
			where = append(where, `height > ?`)
		}
		args = append(args, *q.After)
	}
	sqlText := `SELECT height, id, timestamp, previous FROM blocks`
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if q.Desc {
		sqlText += ` ORDER BY height DESC`
	} else {
		sqlText += ` ORDER BY height ASC`
	}
	sqlText += ` LIMIT ?`
	args = append(args, q.First+1)
	return queryPage(ctx, s.db, "blocks", sqlText, args, q.First, func(rows *sql.Rows) (block, error) {
		var b block
		return b, rows.Scan(&b.Height, &b.ID, &b.Timestamp, &b.Previous)
	})
}

// queryPage runs a query that asks for first+1 rows and returns at most first
// of them, and whether more follow.
func queryPage[T any](ctx context.Context, db *sql.DB, what, sqlText string, args []any, first int, scan func(*sql.Rows) (T, error)) ([]T, bool, error) {
	rows, err := db.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, false, fmt.Errorf("gateway: query %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, false, fmt.Errorf("gateway: query %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("gateway: query %s: %w", what, err)
	}
	more := len(out) > first
	if more {
		out = out[:first]
	}
	return out, more, nil
}
