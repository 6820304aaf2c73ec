// Package loader runs ao modules exactly as @permaweb/ao-loader does: module
// bytes of a Module-Format → a compiled module (wasmtime, cached on disk) →
// an instance with the emscripten glue the reference provides (clock, heap
// growth, Asyncify, WeaveDrive, gas metering) → handle(message, env).
//
// A Process keeps the reference CU's state semantics: a failed message
// leaves the memory as it was (rollback by snapshot and replay, never a copy
// per message), and a new evaluation stream runs as on a fresh instance.
// Runtime serves the engine's port ao.Runtime with typed messages; the JSON a
// module receives is written by the pure package loader/wire.
//
// It knows wasm and emscripten, nothing about ao networking or storage.
package loader
