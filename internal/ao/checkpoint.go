package ao

import (
	"context"
	"strconv"
)

// CheckpointEvaluation is where a checkpoint's memory stands: the evaluation
// JSON of the reference's checkpoint rows (its field names), plus the sha256
// of the raw memory and, for a file checkpoint, the sha256 of the file's
// bytes, which aocu checks before it trusts a checkpoint.
type CheckpointEvaluation struct {
	ProcessID    string `json:"processId"`
	ModuleID     string `json:"moduleId"`
	AssignmentID string `json:"assignmentId,omitempty"`
	HashChain    string `json:"hashChain,omitempty"`
	Timestamp    int64  `json:"timestamp"`
	Epoch        int64  `json:"epoch"`
	Nonce        int64  `json:"nonce"`
	BlockHeight  int64  `json:"blockHeight"`
	Ordinate     string `json:"ordinate"`
	Cron         string `json:"cron,omitempty"`
	Encoding     string `json:"encoding,omitempty"`
	SHA256       string `json:"sha256,omitempty"`
	// FileSHA256 is the sha256 of a file checkpoint's bytes (its compact
	// image). A file checkpoint is written with it alone (hashing an aos
	// process's 110 MB memory costs ~60 ms, its ~0.5 MB image well under
	// 1 ms); SHA256 is added once the CU has time for it.
	FileSHA256 string `json:"fileSha256,omitempty"`
	MessageID  string `json:"messageId,omitempty"`
}

// ID is the reference's checkpoint id: "<pid>,<timestamp>,<ordinate>[,<cron>]".
func (e *CheckpointEvaluation) ID() string {
	return EvaluationID(e.ProcessID, strconv.FormatInt(e.Timestamp, 10), e.Ordinate, e.Cron)
}

// FileCheckpoint is a checkpoint_files row: the memory in a local file.
type FileCheckpoint struct {
	File       string // the file's name in the checkpoint directory
	Evaluation CheckpointEvaluation
	CachedAt   int64 // ms
}

// Checkpoint is a checkpoints row: the memory in an Arweave transaction.
type Checkpoint struct {
	TxID       string
	Encoding   string // "gzip" or ""
	Evaluation CheckpointEvaluation
}

// CheckpointStore persists where checkpoints are (the reference's
// checkpoint_files and checkpoints tables).
type CheckpointStore interface {
	// SaveFileCheckpoint replaces the process's file checkpoint row.
	SaveFileCheckpoint(ctx context.Context, c *FileCheckpoint) error
	// FindFileCheckpoint returns the process's file checkpoint, or ErrNotFound.
	FindFileCheckpoint(ctx context.Context, processID string) (*FileCheckpoint, error)
	// SaveCheckpoint records an Arweave checkpoint (INSERT OR IGNORE).
	SaveCheckpoint(ctx context.Context, c *Checkpoint) error
	// Checkpoints returns up to limit Arweave checkpoints of the process with a
	// timestamp before `before` (ms), latest first.
	Checkpoints(ctx context.Context, processID string, before int64, limit int) ([]*Checkpoint, error)
}

// CheckpointTx is an Arweave checkpoint found through GraphQL: its id, owner
// and tags.
type CheckpointTx struct {
	ID    string
	Owner string
	Tags  []Tag
}

// CheckpointGateway finds, fetches and uploads Arweave checkpoints.
type CheckpointGateway interface {
	// FindCheckpoints is the reference's GetAoProcessCheckpoints query.
	FindCheckpoints(ctx context.Context, processID string, owners []string, limit int) ([]CheckpointTx, error)
	// Upload posts a signed ANS-104 item to the uploader; it returns the id.
	Upload(ctx context.Context, item []byte) (string, error)
}
