package loader

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/aocu/aocu/internal/metering"
)

// wasmtimeVM runs a module on wasmtime (Cranelift): one store, one instance.
type wasmtimeVM struct {
	h     *instance
	store *wasmtime.Store
	inst  *wasmtime.Instance
	mem   *wasmtime.Memory
	table *wasmtime.Table
	// gasUsedG and gasLimitG are the globals of a module metered with
	// metering.MeterInline: the gas is counted in wasm (nil for other
	// modules).
	gasUsedG, gasLimitG *wasmtime.Global
	// gasUsedF and gasLimitF are the globals of the wasm gas counter
	// (gascounter.go) of a module metered before publication (nil for other
	// modules).
	gasUsedF, gasLimitF *wasmtime.Global
}

// wasmtimeFunc is an export bound to its store, with its parameters' kinds.
type wasmtimeFunc struct {
	f      *wasmtime.Func
	store  *wasmtime.Store
	params []*wasmtime.ValType
}

// instantiateWasmtime instantiates h's module in a new wasmtime store with
// impls (by canonical import name) as its imports.
func (h *instance) instantiateWasmtime(impls map[string]hostFn) (*wasmtimeVM, error) {
	m := h.mod
	v := &wasmtimeVM{h: h, store: wasmtime.NewStore(m.eng.engine)}
	h.vm = v
	v.store.SetEpochDeadline(noDeadline)
	linker := wasmtime.NewLinker(m.eng.engine)
	defer linker.Close()
	for _, d := range m.imports {
		d := d
		if m.wasmGasCounter(d) {
			fn, err := v.newGasCounter(d.params[0])
			if err != nil {
				return nil, err
			}
			if err := linker.Define(v.store, d.module, d.name, fn); err != nil {
				return nil, fmt.Errorf("loader: define import %s.%s: %w", d.module, d.name, err)
			}
			continue
		}
		var cb func(*wasmtime.Caller, []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap)
		if strings.HasPrefix(d.canonical, "invoke_") {
			// The Asyncify glues call the dynCall_<sig> export (itself
			// instrumented, so it saves a frame when unwinding); the older
			// glues call the table entry directly.
			var dyn *wasmtime.Func
			dynName := "dynCall_" + strings.TrimPrefix(d.canonical, "invoke_")
			cb = func(c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
				if dyn == nil && h.spec.async {
					dyn = v.exportWasmtime(dynName)
				}
				return v.invoke(c, dyn, a, d.results)
			}
		} else {
			fn := impls[d.canonical]
			floatBits := floatResults[d.canonical]
			results := d.results
			// raw holds the arguments; a call that re-enters the same import
			// (through wasm code the host function calls) gets its own.
			raw, busy := make([]uint64, len(d.params)), false
			cb = func(c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
				args := raw[:0]
				if busy {
					args = make([]uint64, 0, len(a))
				}
				for _, x := range a {
					args = append(args, rawBits(x))
				}
				busy = true
				r, err := fn(args)
				busy = false
				if err != nil {
					return nil, v.toTrap(err)
				}
				if len(results) == 0 {
					return nil, nil
				}
				return []wasmtime.Val{toVal(results[0], r, floatBits)}, nil
			}
		}
		if err := linker.FuncNew(d.module, d.name, d.ty, cb); err != nil {
			return nil, fmt.Errorf("loader: define import %s.%s: %w", d.module, d.name, err)
		}
	}
	inst, err := linker.Instantiate(v.store, m.mod)
	if err != nil {
		return nil, fmt.Errorf("loader: instantiate: %w", err)
	}
	v.inst = inst
	v.mem = inst.GetExport(v.store, legacyExportName(m.format, "memory")).Memory()
	v.table = inst.GetExport(v.store, legacyExportName(m.format, "__indirect_function_table")).Table()
	if u, l := inst.GetExport(v.store, metering.InlineUsedGlobal), inst.GetExport(v.store, metering.InlineLimitGlobal); u != nil && l != nil {
		v.gasUsedG, v.gasLimitG = u.Global(), l.Global()
	}
	return v, nil
}

// inlineGasLimit is the limit global of a module metered inline: an integer
// count exceeds limit iff it exceeds floor(limit).
func inlineGasLimit(limit float64) int64 {
	if f := math.Floor(limit); f < math.MaxInt64 {
		return int64(f)
	}
	return math.MaxInt64
}

// rawBits is a value as hostFn takes it.
func rawBits(x wasmtime.Val) uint64 {
	switch x.Kind() {
	case wasmtime.KindI32:
		return uint64(uint32(x.I32()))
	case wasmtime.KindI64:
		return uint64(x.I64())
	case wasmtime.KindF32:
		return uint64(math.Float32bits(x.F32()))
	case wasmtime.KindF64:
		return math.Float64bits(x.F64())
	}
	return 0
}

// toTrap turns a host function's error into the trap that unwinds the wasm
// code: a trap of a nested call is kept as it is (with its code).
func (v *wasmtimeVM) toTrap(err error) *wasmtime.Trap {
	var tr *wasmtime.Trap
	if errors.As(err, &tr) {
		return tr
	}
	return wasmtime.NewTrap(err.Error())
}

func (v *wasmtimeVM) data() []byte { return v.mem.UnsafeData(v.store) }

func (v *wasmtimeVM) grow(pages uint64) (uint64, error) { return v.mem.Grow(v.store, pages) }

func (v *wasmtimeVM) exportWasmtime(name string) *wasmtime.Func {
	if v.inst == nil || name == "" {
		return nil
	}
	return v.inst.GetFunc(v.store, name)
}

func (v *wasmtimeVM) export(name string) vmFunc {
	f := v.exportWasmtime(name)
	if f == nil {
		return nil
	}
	return &wasmtimeFunc{f: f, store: v.store, params: f.Type(v.store).Params()}
}

// call passes each argument with the width of its parameter.
func (f *wasmtimeFunc) call(args ...uint64) (uint64, error) {
	var buf [4]interface{}
	in := buf[:0]
	for i, a := range args {
		if i < len(f.params) && f.params[i].Kind() == wasmtime.KindI64 {
			in = append(in, int64(a))
		} else {
			in = append(in, int32(uint32(a)))
		}
	}
	r, err := f.f.Call(f.store, in...)
	if err != nil {
		return 0, err
	}
	switch x := r.(type) {
	case int32:
		return uint64(uint32(x)), nil
	case int64:
		return uint64(x), nil
	}
	return 0, nil
}

func (v *wasmtimeVM) setDeadline(ticks uint64) { v.store.SetEpochDeadline(ticks) }

func (v *wasmtimeVM) isTrap(err error) bool {
	var tr *wasmtime.Trap
	return errors.As(err, &tr)
}

// isTimeout recognises the epoch-deadline trap, also when it arrives wrapped
// in a *wasmtime.Error rather than as a *wasmtime.Trap.
func (v *wasmtimeVM) isTimeout(err error) bool {
	var tr *wasmtime.Trap
	if errors.As(err, &tr) {
		if c := tr.Code(); c != nil && int(*c) == 10 {
			return true
		}
	}
	return strings.Contains(err.Error(), "wasm trap: interrupt")
}

func (v *wasmtimeVM) trapError(err error) (*trapError, bool) {
	var tr *wasmtime.Trap
	if !errors.As(err, &tr) {
		return nil, false
	}
	if code := tr.Code(); code != nil {
		switch int(*code) {
		case 0:
			// V8's RangeError; the reference reports its message.
			return &trapError{msg: "Maximum call stack size exceeded"}, true
		case 1:
			return &trapError{msg: "RuntimeError: memory access out of bounds"}, true
		case 3:
			return &trapError{msg: "RuntimeError: table index is out of bounds"}, true
		case 4, 5:
			return &trapError{msg: "RuntimeError: null function or function signature mismatch"}, true
		case 6:
			return &trapError{msg: "RuntimeError: integer overflow"}, true
		case 7:
			return &trapError{msg: "RuntimeError: divide by zero"}, true
		case 8:
			return &trapError{msg: "RuntimeError: float unrepresentable in integer range"}, true
		case 9:
			return &trapError{msg: "RuntimeError: unreachable"}, true
		}
	}
	return &trapError{msg: "RuntimeError: " + tr.Message()}, true
}

func (v *wasmtimeVM) gasRefill(limit float64) {
	if v.gasUsedG != nil {
		v.gasUsedG.Set(v.store, wasmtime.ValI64(0))
		v.gasLimitG.Set(v.store, wasmtime.ValI64(inlineGasLimit(limit)))
	}
	if v.gasUsedF != nil {
		v.gasUsedF.Set(v.store, wasmtime.ValF64(0))
		v.gasLimitF.Set(v.store, wasmtime.ValF64(limit))
	}
}

// gasUsed reads the module's counter (integer sums are exact below 2^53,
// beyond any limit used).
func (v *wasmtimeVM) gasUsed() (float64, bool) {
	switch {
	case v.gasUsedG != nil:
		return float64(v.gasUsedG.Get(v.store).I64()), true
	case v.gasUsedF != nil:
		return v.gasUsedF.Get(v.store).F64(), true
	}
	return 0, false
}

func (v *wasmtimeVM) gasInline() bool { return v.gasUsedG != nil }

func (v *wasmtimeVM) close() {
	if v.store != nil {
		v.store.Close()
		v.store = nil
	}
}

func toVal(k wasmtime.ValKind, r int64, floatBits bool) wasmtime.Val {
	switch k {
	case wasmtime.KindI32:
		return wasmtime.ValI32(int32(r))
	case wasmtime.KindI64:
		return wasmtime.ValI64(r)
	case wasmtime.KindF64:
		if floatBits {
			return wasmtime.ValF64(math.Float64frombits(uint64(r)))
		}
		return wasmtime.ValF64(float64(r))
	case wasmtime.KindF32:
		if floatBits {
			return wasmtime.ValF32(float32(math.Float64frombits(uint64(r))))
		}
		return wasmtime.ValF32(float32(r))
	}
	return wasmtime.ValI32(0)
}

// invoke is emscripten's invoke_<sig>: call table[idx](args...) and turn a
// longjmp into setThrew(1, 0), restoring the stack pointer.
func (v *wasmtimeVM) invoke(c *wasmtime.Caller, dyn *wasmtime.Func, a []wasmtime.Val, results []wasmtime.ValKind) ([]wasmtime.Val, *wasmtime.Trap) {
	h := v.h
	sp, err := h.callPtr(h.ex.stackCurrent)
	if err != nil {
		return nil, v.toTrap(h.trapErr(err))
	}
	var f *wasmtime.Func
	var args []interface{}
	if dyn != nil {
		f = dyn
		args = make([]interface{}, len(a))
		idx := a[0]
		if ps := dyn.Type(c).Params(); len(ps) > 0 && ps[0].Kind() != idx.Kind() {
			if ps[0].Kind() == wasmtime.KindI64 {
				idx = wasmtime.ValI64(int64(uint32(idx.I32())))
			} else {
				idx = wasmtime.ValI32(int32(idx.I64()))
			}
		}
		args[0] = idx
		for i, x := range a[1:] {
			args[i+1] = x
		}
	} else {
		fv, err := v.table.Get(c, rawBits(a[0]))
		if err != nil {
			return nil, v.toTrap(h.trapWith(fmt.Errorf("invoke: table index %d: %w", rawBits(a[0]), err)))
		}
		if f = fv.Funcref(); f == nil {
			return nil, v.toTrap(h.trapWith(&abortError{"RuntimeError: null function or function signature mismatch"}))
		}
		args = make([]interface{}, len(a)-1)
		for i, x := range a[1:] {
			args[i] = x
		}
	}
	res, err := f.Call(c, args...)
	if err != nil {
		if errors.Is(h.pending, errLongjmp) {
			h.pending = nil
			if _, e := h.callPtr(h.ex.stackRestore, sp); e != nil {
				return nil, v.toTrap(h.trapErr(e))
			}
			if _, e := h.callPtr(h.ex.setThrew, 1, 0); e != nil {
				return nil, v.toTrap(h.trapErr(e))
			}
			return zeroVals(results), nil
		}
		return nil, v.toTrap(h.trapErr(err))
	}
	if len(results) == 0 {
		return nil, nil
	}
	switch x := res.(type) {
	case int32:
		return []wasmtime.Val{wasmtime.ValI32(x)}, nil
	case int64:
		return []wasmtime.Val{wasmtime.ValI64(x)}, nil
	case float32:
		return []wasmtime.Val{wasmtime.ValF32(x)}, nil
	case float64:
		return []wasmtime.Val{wasmtime.ValF64(x)}, nil
	}
	return zeroVals(results), nil
}

func zeroVals(kinds []wasmtime.ValKind) []wasmtime.Val {
	out := make([]wasmtime.Val, len(kinds))
	for i, k := range kinds {
		out[i] = toVal(k, 0, false)
	}
	return out
}
