// Package rowcodec turns the CU's values into the reference's column values
// and its rows back into values, for the stores of ao.Store (sqlitestore,
// pgstore): the JSON columns as the reference's JSON.stringify writes them,
// NULLs for what is absent, the evaluation rows and the checkpoint rows. It
// holds no SQL and knows no driver: a row is read through Scanner or Rows,
// which both database/sql and pgx implement, so that the two stores read and
// write the same values.
package rowcodec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/jsjson"
)

// CollationMaxChar ends an id range: the reference's
// COLLATION_SEQUENCE_MAX_CHAR, '\u{10FFFF}'.
const CollationMaxChar = "\U0010FFFF"

// ErrInvalidOwner is a processes or modules row whose owner is not JSON (the
// reference's deprecated format), which the stores delete and report as not
// found, as the reference does.
var ErrInvalidOwner = errors.New("invalid record")

// Scanner is one row: *sql.Row, *sql.Rows, pgx.Row, pgx.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is the rows of a query: *sql.Rows, pgx.Rows. The caller closes them.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// ---- JSON columns, written as the reference's JSON.stringify writes them ----

// OwnerJSON is the owner column: {"address":…,"key":…}.
func OwnerJSON(o ao.Owner) string {
	var b jsjson.Object
	b.String("address", o.Address)
	b.String("key", o.Key)
	return string(b.Bytes())
}

// TagsJSON is the tags column: [{"name":…,"value":…},…], [] for none.
func TagsJSON(tags []ao.Tag) string { return string(ao.TagsJSON(tags)) }

// BlockJSON is the block column: {"height":…,"timestamp":…}.
func BlockJSON(b ao.Block) string {
	var o jsjson.Object
	o.Number("height", float64(b.Height))
	o.Number("timestamp", float64(b.Timestamp))
	return string(o.Bytes())
}

// NullString is s, or NULL when s is empty.
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// NullInt is *p, or NULL when p is nil.
func NullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// Deref is *p, or the zero value (what a NULL column reads as) when p is
// nil.
func Deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// ---- processes and modules ----

// ProcessArgs are the values of the processes columns id, signature, data,
// anchor, owner, tags, block: data is NULL (the reference never stores it),
// and so are an empty signature and anchor.
func ProcessArgs(p *ao.Process) []any {
	return []any{p.ID, NullString(p.Signature), nil, NullString(p.Anchor), OwnerJSON(p.Owner), TagsJSON(p.Tags), BlockJSON(p.Block)}
}

// Process is a processes row read back, or ErrInvalidOwner when its owner is
// not JSON. Errors of the other columns name the column.
func Process(id, signature, anchor string, owner, tags, block []byte) (*ao.Process, error) {
	if !json.Valid(owner) {
		return nil, ErrInvalidOwner
	}
	p := &ao.Process{ID: id, Signature: signature, Anchor: anchor}
	if err := json.Unmarshal(owner, &p.Owner); err != nil {
		return nil, fmt.Errorf("owner: %w", err)
	}
	if err := json.Unmarshal(tags, &p.Tags); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	if err := json.Unmarshal(block, &p.Block); err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	return p, nil
}

// Module is a modules row read back, or ErrInvalidOwner when its owner is
// not JSON.
func Module(id string, owner, tags []byte) (*ao.Module, error) {
	if !json.Valid(owner) {
		return nil, ErrInvalidOwner
	}
	m := &ao.Module{ID: id}
	if err := json.Unmarshal(owner, &m.Owner); err != nil {
		return nil, fmt.Errorf("owner: %w", err)
	}
	if err := json.Unmarshal(tags, &m.Tags); err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	return m, nil
}

// ---- evaluations ----

// CheckOutput accepts any JSON value but a bare number: the output column
// is declared JSONB in SQLite, which has NUMERIC affinity, and SQLite would
// store a numeric literal as INTEGER or REAL instead of the bytes given; the
// rule is the same for every store. (The output is an object in practice.)
func CheckOutput(out []byte) error {
	if !json.Valid(out) {
		return errors.New("output is not valid JSON")
	}
	if t := bytes.TrimLeft(out, " \t\r\n"); t[0] == '-' || (t[0] >= '0' && t[0] <= '9') {
		return errors.New("output is a bare JSON number")
	}
	return nil
}

// EvaluationRange is the id range of q: After and Through, an empty one
// being the reference's default bound for the whole process, "<pid>," and
// "<pid>,\U0010FFFF" (which needs the process id).
func EvaluationRange(q ao.RangeQuery) (after, through string, err error) {
	after, through = q.After, q.Through
	if after == "" || through == "" {
		if q.ProcessID == "" {
			return "", "", errors.New("no process id for an empty bound")
		}
		a, t := ProcessRange(q.ProcessID)
		if after == "" {
			after = a
		}
		if through == "" {
			through = t
		}
	}
	return after, through, nil
}

// ProcessRange is the id range of all the process's evaluations.
func ProcessRange(processID string) (after, through string) {
	return processID + ",", processID + "," + CollationMaxChar
}

// EvaluationArgs are the values of the evaluations columns id, processId,
// messageId, deepHash, nonce, epoch, timestamp, ordinate, blockHeight, cron,
// evaluatedAt, output (NULL for what is absent; the output verbatim, as
// text).
func EvaluationArgs(id string, e *ao.Evaluation) []any {
	return []any{id, e.ProcessID, NullString(e.MessageID), NullString(e.DeepHash),
		NullInt(e.Nonce), NullInt(e.Epoch), e.Timestamp, e.Ordinate, e.BlockHeight, NullString(e.Cron),
		e.EvaluatedAt, string(e.Output)}
}

// ScanEvaluation reads an evaluations row selected as the columns id,
// processId, messageId, deepHash, nonce, epoch, timestamp, ordinate,
// blockHeight, cron, evaluatedAt, output: NULLs read as "", nil or 0.
func ScanEvaluation(sc Scanner) (*ao.Evaluation, error) {
	var (
		id                          string
		pid, mid, dh, ord, cron     *string
		nonce, epoch, ts, bh, evaAt *int64
		output                      []byte
	)
	if err := sc.Scan(&id, &pid, &mid, &dh, &nonce, &epoch, &ts, &ord, &bh, &cron, &evaAt, &output); err != nil {
		return nil, err
	}
	return &ao.Evaluation{
		ProcessID:   Deref(pid),
		MessageID:   Deref(mid),
		DeepHash:    Deref(dh),
		Nonce:       nonce,
		Epoch:       epoch,
		Timestamp:   Deref(ts),
		Ordinate:    Deref(ord),
		BlockHeight: Deref(bh),
		Cron:        Deref(cron),
		Output:      output,
		EvaluatedAt: Deref(evaAt),
	}, nil
}

// ScanEvaluations reads all the rows as ScanEvaluation does.
func ScanEvaluations(rows Rows) ([]*ao.Evaluation, error) {
	var out []*ao.Evaluation
	for rows.Next() {
		e, err := ScanEvaluation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- blocks ----

// ScanBlocks reads rows selected as the columns height, timestamp.
func ScanBlocks(rows Rows) ([]ao.Block, error) {
	var out []ao.Block
	for rows.Next() {
		var b ao.Block
		if err := rows.Scan(&b.Height, &b.Timestamp); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- checkpoints ----

// FileCheckpointArgs are the values of the checkpoint_files columns id,
// processId, timestamp, ordinate, cron, file, evaluation, cachedAt. Only the
// JSON encoding of the evaluation can fail.
func FileCheckpointArgs(c *ao.FileCheckpoint) ([]any, error) {
	ev, err := json.Marshal(c.Evaluation)
	if err != nil {
		return nil, err
	}
	e := c.Evaluation
	return []any{e.ID(), e.ProcessID, e.Timestamp, e.Ordinate, NullString(e.Cron), c.File, string(ev), c.CachedAt}, nil
}

// FileCheckpoint is a checkpoint_files row read back from its columns file,
// evaluation and cachedAt.
func FileCheckpoint(file, evaluation string, cachedAt int64) (*ao.FileCheckpoint, error) {
	c := &ao.FileCheckpoint{File: file, CachedAt: cachedAt}
	if err := json.Unmarshal([]byte(evaluation), &c.Evaluation); err != nil {
		return nil, fmt.Errorf("evaluation: %w", err)
	}
	return c, nil
}

// CheckpointArgs are the values of the checkpoints columns id, processId,
// timestamp, ordinate, cron, memory, evaluation, memory being
// {"id":"<txid>","encoding":"gzip"} (no encoding when there is none). Only
// the JSON encoding of the evaluation can fail.
func CheckpointArgs(c *ao.Checkpoint) ([]any, error) {
	ev, err := json.Marshal(c.Evaluation)
	if err != nil {
		return nil, err
	}
	var mem jsjson.Object
	mem.String("id", c.TxID)
	if c.Encoding != "" {
		mem.String("encoding", c.Encoding)
	}
	e := c.Evaluation
	return []any{e.ID(), e.ProcessID, e.Timestamp, e.Ordinate, NullString(e.Cron), string(mem.Bytes()), string(ev)}, nil
}

// ScanCheckpoints reads rows selected as the columns memory, evaluation.
// Rows whose JSON does not parse are skipped, as missing checkpoints (a
// NULL column is an error).
func ScanCheckpoints(rows Rows) ([]*ao.Checkpoint, error) {
	var out []*ao.Checkpoint
	for rows.Next() {
		var mem, ev string
		if err := rows.Scan(&mem, &ev); err != nil {
			return nil, err
		}
		var m struct{ ID, Encoding string }
		c := &ao.Checkpoint{}
		if json.Unmarshal([]byte(mem), &m) != nil || json.Unmarshal([]byte(ev), &c.Evaluation) != nil {
			continue // a row another writer mangled: skip it, as a missing checkpoint
		}
		c.TxID, c.Encoding = m.ID, m.Encoding
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
