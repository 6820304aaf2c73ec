package ao

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Store lookups that find nothing.
var ErrNotFound = errors.New("not found")

// RangeQuery selects evaluations of one process by primary key range, as the
// reference's /results and /cron do: After < id <= Through (string order),
// ordered by timestamp, ordinate, cron.
type RangeQuery struct {
	ProcessID string
	After     string // exclusive lower bound of id
	Through   string // inclusive upper bound of id
	OnlyCron  bool
	Desc      bool
	Limit     int
}

// Store is the CU's persistence: the reference's tables behind one interface
// (SQLite embedded, PostgreSQL remote).
type Store interface {
	FindProcess(ctx context.Context, id string) (*Process, error)
	SaveProcess(ctx context.Context, p *Process) error
	FindModule(ctx context.Context, id string) (*Module, error)
	SaveModule(ctx context.Context, m *Module) error

	// SaveEvaluations writes the evaluations rows (unless skipEvaluations) and
	// the messages rows of a batch in one transaction, INSERT OR IGNORE.
	SaveEvaluations(ctx context.Context, evals []*Evaluation, skipEvaluations bool) error
	// FindEvaluation returns the evaluation with the given id, or ErrNotFound.
	FindEvaluation(ctx context.Context, id string) (*Evaluation, error)
	// Evaluations returns the rows of a range query.
	Evaluations(ctx context.Context, q RangeQuery) ([]*Evaluation, error)
	// LatestEvaluation returns the process's last stored evaluation in
	// (timestamp, ordinate, cron) order, or ErrNotFound.
	LatestEvaluation(ctx context.Context, processID string) (*Evaluation, error)
	// MessageSeenBefore reports whether the messages row id was recorded for the
	// process at a lower nonce of the same epoch (the reference's
	// findMessageBefore).
	MessageSeenBefore(ctx context.Context, processID, id string, epoch, nonce int64) (bool, error)

	// SaveBlocks stores block metadata (INSERT OR IGNORE).
	SaveBlocks(ctx context.Context, blocks []Block) error
	// Blocks returns the blocks with height >= minHeight and timestamp <=
	// maxTimestamp (ms), ascending by height.
	Blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]Block, error)

	Close() error
}

// ModuleBinary records the binary of a module that compiled: what a cached
// copy on disk must hash to before it is used again.
type ModuleBinary struct {
	ModuleID string
	SHA256   string // hex
	Size     int64
}

// ModuleBinaryStore is implemented by stores that keep module binary records.
// A CU whose store lacks it never trusts a cached binary: it downloads the
// module again at every start.
type ModuleBinaryStore interface {
	SaveModuleBinary(ctx context.Context, b *ModuleBinary) error
	// FindModuleBinary returns the record, or ErrNotFound.
	FindModuleBinary(ctx context.Context, moduleID string) (*ModuleBinary, error)
}
