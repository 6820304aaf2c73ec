package loader

import (
	"fmt"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Module is a compiled ao module for one format. It is safe for concurrent use:
// every Process gets its own store and instance.
type Module struct {
	eng     *Engine
	mod     *wasmtime.Module
	format  Format
	spec    formatSpec
	sha256  string
	imports []importDecl
	// maxBytes is the module's own declared memory maximum (the effective
	// memory limit of a process, as in the reference), 0 if none is declared.
	maxBytes uint64
	minBytes uint64
}

type importDecl struct {
	module, name string
	ty           *wasmtime.FuncType
	params       []wasmtime.ValKind
	results      []wasmtime.ValKind
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
	for _, name := range requiredExports {
		if _, ok := exports[name]; !ok {
			return nil, fmt.Errorf("%w: missing export %q required by format %s", ErrInvalidModule, name, format)
		}
	}
	mt := exports["memory"].MemoryType()
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
	if exports["handle"].FuncType() == nil {
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
		switch {
		case strings.HasPrefix(name, "invoke_"):
			usesInvoke = true
		case strings.HasPrefix(name, "__asyncjs__"):
			usesAsync = true
		}
		if !knownImport(d.module, name) {
			return nil, fmt.Errorf("%w: module imports %s.%s, which the reference loader's %s glue does not provide",
				ErrInvalidModule, d.module, name, format)
		}
		m.imports = append(m.imports, d)
	}
	if usesInvoke {
		if _, ok := exports["setThrew"]; !ok {
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

// Format returns the module's format.
func (m *Module) Format() Format { return m.format }

// SHA256 returns the hex sha256 of the module bytes as given to Compile.
func (m *Module) SHA256() string { return m.sha256 }

// MaxMemory returns the module's declared maximum memory in bytes (0: none).
func (m *Module) MaxMemory() uint64 { return m.maxBytes }

// InitialMemory returns the module's initial memory in bytes.
func (m *Module) InitialMemory() uint64 { return m.minBytes }
