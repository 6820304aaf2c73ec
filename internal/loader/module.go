package loader

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/aocu/aocu/internal/aot"
	"github.com/aocu/aocu/internal/metering"
)

// Module is a compiled ao module for one format. It is safe for concurrent use:
// every Process gets its own store and instance.
type Module struct {
	eng     *Engine
	mod     *wasmtime.Module
	format  Format
	spec    formatSpec
	legacy  *legacyGlue // the old glue of a legacy format, nil for the modern ones
	sha256  string
	imports []importDecl
	// maxBytes is the module's own declared memory maximum (the effective
	// memory limit of a process, as in the reference), 0 if none is declared.
	maxBytes uint64
	minBytes uint64
	// inlineGas: the module was metered with metering.MeterInline (it counts
	// its gas itself and calls metering.usegas only past the limit).
	inlineGas bool
	// aot is the module compiled ahead of time (TierAOT), nil when it runs
	// on wasmtime.
	aot atomic.Pointer[aot.Module]
}

type importDecl struct {
	module, name string
	// canonical is the host function the glue wires to the import: the name
	// itself for the modern formats, legacyImportName for the old ones.
	canonical string
	ty        *wasmtime.FuncType
	params    []wasmtime.ValKind
	results   []wasmtime.ValKind
}

const pageSize = 65536

// Exports the host calls, by format family.
var (
	requiredExports = []string{
		"memory", "handle", "malloc", "free", "__indirect_function_table",
		"emscripten_stack_init", "emscripten_stack_get_end", "emscripten_stack_get_current",
		"_emscripten_stack_alloc", "_emscripten_stack_restore", "__wasm_call_ctors",
	}
	asyncifyExports = []string{
		"asyncify_start_unwind", "asyncify_stop_unwind", "asyncify_start_rewind", "asyncify_stop_rewind",
	}
)

func newModule(e *Engine, mod *wasmtime.Module, format Format, spec formatSpec, hash string) (*Module, error) {
	m := &Module{eng: e, mod: mod, format: format, spec: spec, sha256: hash}
	exports := map[string]*wasmtime.ExternType{}
	for _, ex := range mod.Exports() {
		exports[ex.Name()] = ex.Type()
	}
	_, m.inlineGas = exports[metering.InlineUsedGlobal]
	required := requiredExports
	if g, ok := legacyGlues[format]; ok {
		m.legacy = &g
		required = g.required
	}
	export := func(canonical string) *wasmtime.ExternType { return exports[legacyExportName(format, canonical)] }
	for _, name := range required {
		if export(name) == nil {
			return nil, fmt.Errorf("%w: missing export %q required by format %s", ErrInvalidModule, legacyExportName(format, name), format)
		}
	}
	mt := export("memory").MemoryType()
	if mt == nil {
		return nil, fmt.Errorf("%w: export \"memory\" is not a memory", ErrInvalidModule)
	}
	if mt.Is64() != spec.memory64 {
		width := map[bool]string{true: "64-bit (memory64)", false: "32-bit"}
		return nil, fmt.Errorf("%w: format %s needs a %s memory but the module's memory is %s",
			ErrInvalidModule, format, width[spec.memory64], width[mt.Is64()])
	}
	m.minBytes = mt.Minimum() * pageSize
	if ok, max := mt.Maximum(); ok {
		m.maxBytes = max * pageSize
	}
	if export("handle").FuncType() == nil {
		return nil, fmt.Errorf("%w: export \"handle\" is not a function", ErrInvalidModule)
	}
	usesInvoke, usesAsync := false, false
	for _, im := range mod.Imports() {
		name := ""
		if im.Name() != nil {
			name = *im.Name()
		}
		ft := im.Type().FuncType()
		if ft == nil {
			return nil, fmt.Errorf("%w: import %s.%s is not a function (the glue only provides functions)", ErrInvalidModule, im.Module(), name)
		}
		d := importDecl{module: im.Module(), name: name, ty: ft}
		for _, p := range ft.Params() {
			d.params = append(d.params, p.Kind())
		}
		for _, r := range ft.Results() {
			d.results = append(d.results, r.Kind())
		}
		if len(d.results) > 1 {
			return nil, fmt.Errorf("%w: import %s.%s returns %d values", ErrInvalidModule, d.module, name, len(d.results))
		}
		d.canonical = name
		known := knownImport(d.module, name)
		if m.legacy != nil {
			d.canonical, known = legacyImportName(format, d.module, name)
		}
		if !known {
			return nil, fmt.Errorf("%w: module imports %s.%s, which the reference loader's %s glue does not provide",
				ErrInvalidModule, d.module, name, format)
		}
		if lo, ok := legacyOnlyImports[d.canonical]; ok && lo.sig != "" && lo.sig != d.signature() {
			return nil, fmt.Errorf("%w: import %s.%s has type %s, but the %s glue's function for it takes %s",
				ErrInvalidModule, d.module, name, d.signature(), format, lo.sig)
		}
		switch {
		case strings.HasPrefix(d.canonical, "invoke_"):
			usesInvoke = true
		case strings.HasPrefix(d.canonical, "__asyncjs__"):
			usesAsync = true
		}
		m.imports = append(m.imports, d)
	}
	if usesInvoke {
		if export("setThrew") == nil {
			return nil, fmt.Errorf("%w: module imports invoke_* but does not export setThrew", ErrInvalidModule)
		}
	}
	if usesAsync {
		if !spec.async {
			return nil, fmt.Errorf("%w: module imports __asyncjs__* functions but format %s has no Asyncify", ErrInvalidModule, format)
		}
		for _, name := range asyncifyExports {
			if _, ok := exports[name]; !ok {
				return nil, fmt.Errorf("%w: module imports __asyncjs__* but does not export %s", ErrInvalidModule, name)
			}
		}
	}
	return m, nil
}

// paramIs64 reports whether the import's parameter i is an i64.
func (d importDecl) paramIs64(i int) bool {
	return i < len(d.params) && d.params[i] == wasmtime.KindI64
}

// signature is the import's type as "(i32,i32)->(i32)".
func (d importDecl) signature() string {
	kinds := func(ks []wasmtime.ValKind) string {
		s := make([]string, len(ks))
		for i, k := range ks {
			s[i] = k.String()
		}
		return "(" + strings.Join(s, ",") + ")"
	}
	return kinds(d.params) + "->" + kinds(d.results)
}

// Tier returns the code the module runs as.
func (m *Module) Tier() Tier {
	if m.aot.Load() != nil {
		return TierAOT
	}
	return TierCranelift
}

// Format returns the module's format.
func (m *Module) Format() Format { return m.format }

// SHA256 returns the hex sha256 of the module bytes as given to Compile.
func (m *Module) SHA256() string { return m.sha256 }

// MaxMemory returns the module's declared maximum memory in bytes (0: none).
func (m *Module) MaxMemory() uint64 { return m.maxBytes }

// InitialMemory returns the module's initial memory in bytes.
func (m *Module) InitialMemory() uint64 { return m.minBytes }
