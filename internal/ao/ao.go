// Package ao holds the Compute Unit's domain types and the small interfaces the
// engine needs from the outside world (the scheduler, the gateway, the store).
// It does no I/O.
package ao

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/jsjson"
)

// Tag is an ANS-104 tag: one type for the domain, the data items and the
// stores.
type Tag = arweave.Tag

// TagValue returns the value of the first tag named name.
func TagValue(tags []Tag, name string) (string, bool) {
	for _, t := range tags {
		if t.Name == name {
			return t.Value, true
		}
	}
	return "", false
}

// Owner is a signer as the SU and the gateway describe it: the address and the
// base64url public key.
type Owner struct {
	Address string `json:"address"`
	Key     string `json:"key"`
}

// Block is a block height and its timestamp in milliseconds.
type Block struct {
	Height    int64 `json:"height"`
	Timestamp int64 `json:"timestamp"`
}

// Process is a process as the CU stores it (the reference's processes row):
// Block.Timestamp is the SU's timestamp of the process message, in ms.
type Process struct {
	ID        string `json:"id"`
	Signature string `json:"signature"`
	Anchor    string `json:"anchor"`
	Owner     Owner  `json:"owner"`
	Tags      []Tag  `json:"tags"`
	Block     Block  `json:"block"`
}

// Module is a module's metadata (the reference's modules row).
type Module struct {
	ID    string `json:"id"`
	Owner Owner  `json:"owner"`
	Tags  []Tag  `json:"tags"`
}

// Evaluation is one evaluated message as stored (the evaluations row plus what
// the messages row needs).
type Evaluation struct {
	ProcessID   string
	MessageID   string
	DeepHash    string // std base64 deep hash of a forwarded message, else ""
	Nonce       *int64 // nil for crons
	Epoch       *int64
	Timestamp   int64
	Ordinate    string
	BlockHeight int64
	Cron        string // "" for scheduled messages (NULL in the DB)
	// Output is the JSON object {Messages, Assignments, Spawns, Output, GasUsed, Error}.
	Output      json.RawMessage
	EvaluatedAt int64 // ms
	// IsAssignment selects the messages row's id: the message id for an
	// assignment, else the deep hash or the message id.
	IsAssignment bool
}

// ID is the evaluation's primary key: "<pid>,<timestamp>,<ordinate>[,<cron>]".
func (e *Evaluation) ID() string {
	return EvaluationID(e.ProcessID, strconv.FormatInt(e.Timestamp, 10), e.Ordinate, e.Cron)
}

// EvaluationID joins the non-empty parts with commas, as the reference does.
func EvaluationID(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if p == "" && i > 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p)
	}
	return b.String()
}

// MessageRowID is the id of the messages row (duplicate detection) for the
// evaluation, "" when none is written (crons).
func (e *Evaluation) MessageRowID() string {
	switch {
	case e.Cron != "":
		return ""
	case e.IsAssignment:
		return e.MessageID
	case e.DeepHash != "":
		return e.DeepHash
	}
	return e.MessageID
}

// Seq is the messages row's "<epoch>:<nonce>".
func (e *Evaluation) Seq() string {
	var ep, n int64
	if e.Epoch != nil {
		ep = *e.Epoch
	}
	if e.Nonce != nil {
		n = *e.Nonce
	}
	return strconv.FormatInt(ep, 10) + ":" + strconv.FormatInt(n, 10)
}

// TagsJSON is JSON.stringify of tags: [{"name":…,"value":…},…], [] for none.
// The module receives it in messages and env, and the store keeps it in the
// tags columns.
func TagsJSON(tags []Tag) []byte {
	var a jsjson.Array
	for _, t := range tags {
		var o jsjson.Object
		o.String("name", t.Name)
		o.String("value", t.Value)
		a.Raw(o.Bytes())
	}
	return a.Bytes()
}
