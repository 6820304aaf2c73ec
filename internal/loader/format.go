package loader

import "fmt"

// Format is the Module-Format tag of an ao module: it selects the host glue.
type Format string

// The Module-Format values that the reference loader @permaweb/ao-loader 0.0.49 accepts.
const (
	FormatWasm64         Format = "wasm64-unknown-emscripten-draft_2024_02_15"
	FormatWasm64Metering Format = "wasm64-unknown-emscripten-draft_2024_10_16-metering"
	FormatEmscripten4    Format = "wasm32-unknown-emscripten4"
	FormatWasm32Metering Format = "wasm32-unknown-emscripten-metering"
	FormatEmscripten     Format = "wasm32-unknown-emscripten"
	FormatEmscripten2    Format = "wasm32-unknown-emscripten2"
	FormatEmscripten3    Format = "wasm32-unknown-emscripten3"
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
