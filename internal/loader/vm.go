package loader

// vm is the engine under an instance: the code of the module and its linear
// memory. The glue (instance.go, host.go and the files beside them) works
// through it and through hostFn, so that it does not depend on the engine:
// wasmtime (vm_wasmtime.go) or the ahead-of-time tier.
type vm interface {
	// data is the linear memory at its current size.
	data() []byte
	// grow is memory.grow by pages: the size before, in pages.
	grow(pages uint64) (uint64, error)
	// export is the function exported under name (the module's own name for
	// it, after legacyExportName), nil when there is none.
	export(name string) vmFunc
	// setDeadline bounds the calls that follow to ticks of the engine's epoch
	// (epochTick) from now; noDeadline lifts the bound.
	setDeadline(ticks uint64)
	// isTrap reports whether err is a trap the engine raised in wasm code
	// (kept as it is when it passes through a host function).
	isTrap(err error) bool
	// isTimeout reports whether err is the engine's deadline trap.
	isTimeout(err error) bool
	// trapError is what the caller of handle() sees for a trap of the
	// engine: the reference's error message; false when err is not one.
	trapError(err error) (*trapError, bool)
	// gasRefill restarts the gas the module counts itself (metering) at 0
	// with limit; gasUsed reads it back (false: the module does not count).
	gasRefill(limit float64)
	gasUsed() (float64, bool)
	// gasInline: the module counts its gas inline (metering.MeterInline) and
	// calls usegas only past the limit.
	gasInline() bool
	close()
}

// vmFunc is an exported function; its arguments and result are the raw bits
// of the values (integers zero-extended, as for hostFn).
type vmFunc interface {
	call(args ...uint64) (uint64, error)
}

// noDeadline is the deadline of calls outside handle(): none.
const noDeadline = 1<<32 - 1
