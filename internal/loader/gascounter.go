package loader

import (
	"fmt"
	"sync"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/aocu/aocu/internal/metering"
)

// A module metered before it was published (the old formats of the permaweb/ao
// tests, and any module that imports metering.usegas without being metered at
// load) calls metering.usegas once per metered block: hundreds of thousands of
// times per message. As a Go host function each call crosses cgo both ways
// (~0.1-0.2 µs), which made such modules ~3x slower than the reference. So the
// import is given a function written in wasm instead, instantiated from a tiny
// module in the process's store: a wasm-to-wasm call. It does what the glue's
// usegas does, in float64 as JavaScript does (gas.used += Number(n); if
// (gas.used > gas.limit) throw Error('out of gas!')), and calls the host only
// to throw.

// gasCounterWAT is the counter for a usegas import taking a param of type kind
// ("i32" or "i64"); f64.convert_*_s is Number() of the signed value (rounding
// to nearest, ties to even, as Number(BigInt) does).
func gasCounterWAT(kind string) string {
	return fmt.Sprintf(`(module
  (import "aocu" "out_of_gas" (func $out_of_gas))
  (global $used (export "used") (mut f64) (f64.const 0))
  (global $limit (export "limit") (mut f64) (f64.const 0))
  (func (export "usegas") (param $n %[1]s)
    (global.set $used (f64.add (global.get $used) (f64.convert_%[1]s_s (local.get $n))))
    (if (f64.gt (global.get $used) (global.get $limit))
      (then (call $out_of_gas)))))`, kind)
}

// gasCounters compiles the two counter modules once per engine.
type gasCounters struct {
	once     sync.Once
	i32, i64 *wasmtime.Module
	err      error
}

func (g *gasCounters) module(e *wasmtime.Engine, kind wasmtime.ValKind) (*wasmtime.Module, error) {
	g.once.Do(func() {
		compile := func(k string) *wasmtime.Module {
			if g.err != nil {
				return nil
			}
			wasm, err := wasmtime.Wat2Wasm(gasCounterWAT(k))
			if err != nil {
				g.err = fmt.Errorf("loader: gas counter (%s): %w", k, err)
				return nil
			}
			m, err := wasmtime.NewModule(e, wasm)
			if err != nil {
				g.err = fmt.Errorf("loader: gas counter (%s): %w", k, err)
			}
			return m
		}
		g.i32, g.i64 = compile("i32"), compile("i64")
	})
	if g.err != nil {
		return nil, g.err
	}
	if kind == wasmtime.KindI64 {
		return g.i64, nil
	}
	return g.i32, nil
}

// wasmGasCounter reports whether the import d gets the wasm counter: a
// metering.usegas(i32|i64) of a module not metered inline at load (there the
// module counts itself and calls usegas only past the limit).
func (m *Module) wasmGasCounter(d importDecl) bool {
	return d.canonical == "usegas" && !m.inlineGas && len(d.results) == 0 && len(d.params) == 1 &&
		(d.params[0] == wasmtime.KindI32 || d.params[0] == wasmtime.KindI64)
}

// newGasCounter instantiates the counter in v's store and returns its usegas.
func (v *wasmtimeVM) newGasCounter(kind wasmtime.ValKind) (*wasmtime.Func, error) {
	h := v.h
	mod, err := h.mod.eng.gasCounters.module(h.mod.eng.engine, kind)
	if err != nil {
		return nil, err
	}
	outOfGas := wasmtime.NewFunc(v.store, wasmtime.NewFuncType(nil, nil),
		func(*wasmtime.Caller, []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
			return nil, v.toTrap(h.trapWith(&abortError{metering.ErrOutOfGas.Error()}))
		})
	inst, err := wasmtime.NewInstance(v.store, mod, []wasmtime.AsExtern{outOfGas})
	if err != nil {
		return nil, fmt.Errorf("loader: gas counter: %w", err)
	}
	v.gasUsedF = inst.GetExport(v.store, "used").Global()
	v.gasLimitF = inst.GetExport(v.store, "limit").Global()
	// Loading counts against the limit too, from the gas already used.
	v.gasUsedF.Set(v.store, wasmtime.ValF64(h.gas.Used))
	v.gasLimitF.Set(v.store, wasmtime.ValF64(h.gas.Limit))
	return inst.GetFunc(v.store, "usegas"), nil
}
