package ao

// The Module-Format values the reference CU supports by default
// (PROCESS_WASM_SUPPORTED_FORMATS), the one list every package uses.
const (
	FormatEmscripten     = "wasm32-unknown-emscripten"
	FormatEmscripten2    = "wasm32-unknown-emscripten2"
	FormatEmscripten3    = "wasm32-unknown-emscripten3"
	FormatEmscripten4    = "wasm32-unknown-emscripten4"
	FormatWasm64         = "wasm64-unknown-emscripten-draft_2024_02_15"
	FormatWasm32Metering = "wasm32-unknown-emscripten-metering"
	FormatWasm64Metering = "wasm64-unknown-emscripten-draft_2024_10_16-metering"
)

// ModuleFormats lists them in the reference's order.
func ModuleFormats() []string {
	return []string{FormatEmscripten, FormatEmscripten2, FormatEmscripten3, FormatEmscripten4,
		FormatWasm64, FormatWasm32Metering, FormatWasm64Metering}
}
