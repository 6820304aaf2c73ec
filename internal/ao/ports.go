package ao

import (
	"context"
	"encoding/json"
)

// SUMessage is the message of an SU edge. The string fields that the SU may
// send as null or leave out are kept as raw JSON (nil: absent), because the
// reference passes them to the module as they came.
type SUMessage struct {
	ID        string
	Owner     Owner
	Tags      []Tag
	Signature json.RawMessage
	Data      json.RawMessage
	Anchor    json.RawMessage
	Target    json.RawMessage
}

// SUAssignment is the assignment of an SU edge.
type SUAssignment struct {
	ID    string
	Owner Owner
	Tags  []Tag
}

// SUEdge is one scheduled message: an assignment, with its message unless it
// assigns an existing item (Message nil).
type SUEdge struct {
	Cursor     string
	Message    *SUMessage
	Assignment SUAssignment
}

// SUPage is a page of a process's scheduled messages.
type SUPage struct {
	HasNextPage bool
	Edges       []SUEdge
}

// SUProcess is the SU's view of a process: its message and when it was
// scheduled.
type SUProcess struct {
	Process
	Data json.RawMessage // raw JSON string as the SU sent it (nil: absent)
}

// MessageMeta locates a message in its process's schedule.
type MessageMeta struct {
	ProcessID string
	Timestamp int64
	Nonce     int64
}

// TxMeta is a transaction's metadata from the gateway's GraphQL.
type TxMeta struct {
	ID        string
	Signature *string
	Anchor    *string
	Owner     Owner
	Tags      []Tag
	Recipient string
}

// Scheduler reads from Scheduler Units. suURL is the unit's URL (no trailing
// slash).
type Scheduler interface {
	// Process is GET /processes/{pid}.
	Process(ctx context.Context, suURL, processID string) (*SUProcess, error)
	// Message is GET /{messageID}?process-id={pid}.
	Message(ctx context.Context, suURL, messageID, processID string) (*MessageMeta, error)
	// Latest is GET /{pid}/latest: the nonce and timestamp of the last message.
	Latest(ctx context.Context, suURL, processID string) (*MessageMeta, error)
	// Timestamp is GET /timestamp?process-id={pid}: the SU's clock (ms) and block height.
	Timestamp(ctx context.Context, suURL, processID string) (ts, height int64, err error)
	// Messages is GET /{pid}?process-id&from&to&limit; from and to are
	// timestamps as strings ("" to omit).
	Messages(ctx context.Context, suURL, processID, from, to string, limit int) (*SUPage, error)
}

// Gateway reads from the Arweave gateway.
type Gateway interface {
	// Locate returns the URL of the SU of a process, honouring redirects.
	// schedulerHint is the process's Scheduler tag when known.
	Locate(ctx context.Context, processID, schedulerHint string) (string, error)
	// Raw is GET /raw/{id}.
	Raw(ctx context.Context, id string) ([]byte, error)
	// TransactionMeta queries one transaction's metadata.
	TransactionMeta(ctx context.Context, id string, skipTags, skipSignature, skipAnchor bool) (*TxMeta, error)
	// Blocks returns the blocks from minHeight on, ascending, up to (without)
	// the first whose timestamp passes maxTimestamp (ms; compared in whole
	// seconds, as Arweave dates blocks).
	Blocks(ctx context.Context, minHeight, maxTimestamp int64) ([]Block, error)
}
