package loader

import (
	"fmt"

	"github.com/aocu/aocu/internal/ao"
)

// Format is the Module-Format tag of an ao module: it selects the host glue.
type Format string

// The Module-Format values that the reference loader @permaweb/ao-loader 0.0.49 accepts.
const (
	FormatWasm64         Format = ao.FormatWasm64
	FormatWasm64Metering Format = ao.FormatWasm64Metering
	FormatEmscripten4    Format = ao.FormatEmscripten4
	FormatWasm32Metering Format = ao.FormatWasm32Metering
	FormatEmscripten     Format = ao.FormatEmscripten
	FormatEmscripten2    Format = ao.FormatEmscripten2
	FormatEmscripten3    Format = ao.FormatEmscripten3
)

// Formats lists every format in the order the reference CU lists them.
var Formats = []Format{
	FormatEmscripten, FormatEmscripten2, FormatEmscripten3, FormatEmscripten4,
	FormatWasm32Metering, FormatWasm64, FormatWasm64Metering,
}

// formatSpec is what the host glue of a format does differently.
type formatSpec struct {
	memory64  bool   // pointers are i64
	heapMax   uint64 // getHeapMax() of the glue
	async     bool   // Asyncify around __asyncjs__* imports (cwrap {async:true})
	meterType string // "i32"/"i64" when the loader rewrites the binary with wasm-metering, "" otherwise
}

// The old synchronous formats (wasm32-unknown-emscripten, -emscripten2,
// -emscripten3) differ in much more: their glues are described by legacyGlues
// (legacy.go), including how ccall sizes string slots (legacyStringSlot).

func (f Format) spec() (formatSpec, error) {
	switch f {
	case FormatWasm64:
		return formatSpec{memory64: true, heapMax: 17179869184, async: true}, nil
	case FormatWasm64Metering:
		return formatSpec{memory64: true, heapMax: 17179869184, async: true, meterType: "i64"}, nil
	case FormatEmscripten4:
		return formatSpec{heapMax: 4294901760, async: true}, nil
	case FormatWasm32Metering:
		return formatSpec{heapMax: 4294901760, async: true, meterType: "i32"}, nil
	case FormatEmscripten, FormatEmscripten2:
		return formatSpec{heapMax: 524288000}, nil
	case FormatEmscripten3:
		return formatSpec{heapMax: 4294901760}, nil
	}
	return formatSpec{}, fmt.Errorf("%w: %q (supported: %v)", ErrUnknownFormat, string(f), Formats)
}
