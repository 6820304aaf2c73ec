package ao

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aocu/aocu/internal/memimage"
)

// JSValue is the JSON text of a JavaScript value as JSON.stringify writes it
// (a string, null, a number, …); nil is undefined: the member is left out.
type JSValue = json.RawMessage

// Message is a message as the module receives it: the reference's
// messageSchema, in its key order. The runtime encodes it exactly as
// JSON.stringify does (From and Owner tags removed, undefined members left
// out).
type Message struct {
	ID          JSValue
	Signature   JSValue
	Data        JSValue
	Owner       string
	Target      JSValue
	Anchor      JSValue
	From        string
	ForwardedBy JSValue
	Tags        []Tag
	Epoch       JSValue
	Nonce       JSValue
	Timestamp   float64
	BlockHeight float64
	HashChain   JSValue
	Cron        bool
	// Skip and OriginalAssignmentID exist only in the messageSchema of
	// permaweb/ao's feat/hb-unit branch (HyperBEAM's CU sidecar, UNIT_MODE=hbu):
	// Skip is a string defaulting to "false" there. nil: absent, as in the
	// deployed reference CU.
	Skip                 JSValue
	OriginalAssignmentID JSValue
	ReadOnly             bool
}

// EnvEntity is the process or module part of the env.
type EnvEntity struct {
	ID    string
	Owner string
	Tags  []Tag
}

// Env is the AoGlobal handed to the module with every message.
type Env struct {
	Process EnvEntity
	Module  EnvEntity
}

// Result is what handle() produced for one message. Every field holds the raw
// JSON text produced by Lua (never re-marshalled); nil means the key was
// absent (JavaScript undefined).
type Result struct {
	Output      json.RawMessage
	Messages    json.RawMessage
	Spawns      json.RawMessage
	Assignments json.RawMessage
	Error       json.RawMessage
	Patches     json.RawMessage
	GasUsed     float64
	// Rejected is true when handle() rejected (a Lua error, a trap, out of
	// gas): Error holds the rejection text as a JSON string.
	Rejected bool
}

// Failed reports whether the CU discards this message's memory.
func (r *Result) Failed() bool { return r.Rejected || r.Error != nil }

// Errors of an evaluation that produced no result. The process state is the
// state before the message in each case.
var (
	// ErrEvalTimeout: the evaluation ran past its time limit.
	ErrEvalTimeout = errors.New("evaluation timed out")
	// ErrHalt: WeaveDrive could not provide a file the process asked for.
	ErrHalt = errors.New("HALT")
	// ErrMessageTooLarge: the message and env do not fit the module's stack.
	ErrMessageTooLarge = errors.New("message too large for the module's stack")
	// ErrInvalidModule: the bytes are not a module the runtime can run.
	ErrInvalidModule = errors.New("invalid module")
)

// InstanceOptions configures a new instance of a module.
type InstanceOptions struct {
	// Memory is the image to start from (nil: a fresh instance): a raw memory,
	// a compact image or a delta image against Base (package memimage).
	Memory []byte
	// Base is the base image Memory was made against when it is a delta
	// (the engine keeps idle processes as deltas against a base image of
	// their module); the runtime decodes it with memimage.ParseWith, so no
	// plain image is encoded only to be decoded again. Ignored otherwise.
	Base *memimage.Base
	// GasLimit is the process's Compute-Limit (metered formats).
	GasLimit float64
	// Reuse is a fork an ImageForker or a Recycler returned (or nil), whose
	// instance an instance restored from Memory may be built on (no new
	// instance, no page faults). Taken over: the caller must not use it again.
	Reuse Fork
}

// The Memory-Limit tag is checked against PROCESS_WASM_MEMORY_MAX_LIMIT when
// a module loads, as the reference does; at run time the module's own
// declared maximum bounds its memory (the reference loader enforces nothing
// else, and a CU that did would compute other results).

// Runtime compiles modules: the port in front of the wasm loader.
type Runtime interface {
	// Compile compiles module bytes of a Module-Format.
	Compile(ctx context.Context, wasm []byte, format string) (CompiledModule, error)
}

// CompiledModule makes instances of one module.
type CompiledModule interface {
	Instantiate(ctx context.Context, opts InstanceOptions) (Instance, error)
}

// Instance is one process's live state. Not safe for concurrent use.
type Instance interface {
	// Handle evaluates a scheduled message. stream identifies the evaluation
	// stream: the first message of a new stream runs as on the reference's
	// fresh instance (the glue's clock and files restart); the memory is kept.
	// After a failed result the memory is the memory before the message.
	Handle(ctx context.Context, stream uint64, msg *Message, env *Env, limit time.Duration) (*Result, error)
	// DryRun evaluates a message as on a fresh instance and then brings the
	// state back to what it was, whatever happened.
	DryRun(ctx context.Context, msg *Message, env *Env, limit time.Duration) (*Result, error)
	// Memory is the committed linear memory (nil before the first successful
	// message of a fresh instance). It is valid until the next call.
	Memory() []byte
	Close() error
}
