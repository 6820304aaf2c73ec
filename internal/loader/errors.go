package loader

import "errors"

// Errors a caller can test with errors.Is.
var (
	// ErrUnknownFormat: the Module-Format is not one the reference loader knows.
	ErrUnknownFormat = errors.New("unknown module format")
	// ErrInvalidModule: the bytes are not a wasm module this loader can run
	// (not wasm, wrong memory width for the format, a missing export, an import
	// the reference glue does not provide).
	ErrInvalidModule = errors.New("invalid module")
	// ErrHalt: WeaveDrive could not provide a file the process asked for (missing
	// or not admissible). The message produces no result; the reference CU halts
	// the process. The process state stays as it was before the message.
	ErrHalt = errors.New("HALT")
	// ErrTimeout: the wall-clock guard stopped a message that ran too long. The
	// process state stays as it was before the message.
	ErrTimeout = errors.New("evaluation timed out")
	// ErrClosed: the process or engine was closed.
	ErrClosed = errors.New("closed")
)
