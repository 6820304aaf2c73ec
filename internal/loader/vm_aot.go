package loader

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aocu/aocu/internal/aot"
	"github.com/aocu/aocu/internal/metering"
)

// aotVM runs a module compiled ahead of time (package aot: wasm2c and the
// system's C compiler, a shared object per module). The glue's host
// functions are the same as on wasmtime; emscripten's invoke_* and
// _emscripten_throw_longjmp are done in C by the tier itself, and timeouts
// are a signal instead of an epoch check.
type aotVM struct {
	h    *instance
	mod  *aot.Module
	inst *aot.Instance
	// imports are the host functions by import index, with how each result
	// is returned to the wasm code.
	imports []aotImport
	funcs   map[string]vmFunc
	// gasUsed and gasLimit read and write the globals of a module metered
	// inline (nil for other modules).
	gasUsedGet, gasUsedSet, gasLimitSet vmFunc
}

type aotImport struct {
	fn        hostFn
	result    aot.Kind
	hasResult bool
	floatBits bool // the host function returns the result's IEEE bits
}

type aotFunc struct {
	inst *aot.Instance
	name string
}

// aotEligible says why a module cannot run on the ahead-of-time tier ("" when
// it can): the tier runs the modern glues (wasm64 and emscripten 3/4 with
// Asyncify), metered or not when the metering is inline (metering.MeterInline:
// the module counts its gas in two exported globals), not with the wasm gas
// counter (a separate module in wasmtime's store).
func aotEligible(m *Module) string {
	switch {
	case m.legacy != nil:
		return "a legacy format"
	case !m.spec.async:
		return "a format without Asyncify"
	}
	for _, d := range m.imports {
		if m.wasmGasCounter(d) {
			return "metered with the wasm gas counter (a module metered before publication)"
		}
	}
	return ""
}

// onCurrentTier reports whether the instance runs the code new instances of
// its module get (TierAuto moves a module to the compiled code): a recycled
// instance that does not is not reused.
func (h *instance) onCurrentTier() bool {
	_, compiled := h.vm.(*aotVM)
	return compiled == (h.mod.aot.Load() != nil)
}

// switchTier moves the process onto its module's compiled code once the
// background compile is done (TierAuto): its state becomes the base (a
// snapshot) and a new instance is made from it, as a rollback would. It
// stays where it is when that fails.
func (p *Process) switchTier() {
	h := p.inst
	if h == nil || p.broken != nil || p.stayOnTier || h.onCurrentTier() || h.async.state != asyncNormal {
		return
	}
	p.takeSnapshot()
	p.inst = nil
	if err := p.rebuild(); err != nil {
		p.inst, p.stayOnTier = h, true
		if p.opts.Log != nil {
			p.opts.Log(fmt.Sprintf("loader: the process stays on its instance: %v\n", err))
		}
		return
	}
	h.close()
}

// instantiateAOT instantiates h's module on the ahead-of-time tier with
// impls (by canonical import name) as its imports.
func (h *instance) instantiateAOT(am *aot.Module, impls map[string]hostFn) (*aotVM, error) {
	m := h.mod
	v := &aotVM{h: h, mod: am, funcs: map[string]vmFunc{}}
	decls := make(map[[2]string]importDecl, len(m.imports))
	for _, d := range m.imports {
		decls[[2]string{d.module, d.name}] = d
	}
	ims := am.Imports()
	v.imports = make([]aotImport, len(ims))
	for i, im := range ims {
		d, ok := decls[[2]string{im.Module, im.Name}]
		if !ok {
			return nil, fmt.Errorf("loader: the compiled module imports %s.%s, which the module does not", im.Module, im.Name)
		}
		if im.Builtin {
			continue
		}
		ai := aotImport{fn: impls[d.canonical], floatBits: floatResults[d.canonical]}
		if len(im.Type.Results) > 0 {
			ai.result, ai.hasResult = im.Type.Results[0], true
		}
		v.imports[i] = ai
	}
	inst, err := am.Instantiate(v)
	if err != nil {
		return nil, fmt.Errorf("loader: instantiate (aot): %w", err)
	}
	v.inst = inst
	h.vm = v
	if get, set, limit := v.export(aot.GlobalGet+metering.InlineUsedGlobal), v.export(aot.GlobalSet+metering.InlineUsedGlobal),
		v.export(aot.GlobalSet+metering.InlineLimitGlobal); get != nil && set != nil && limit != nil {
		v.gasUsedGet, v.gasUsedSet, v.gasLimitSet = get, set, limit
	}
	return v, nil
}

// CallImport is aot.Host: the glue's host function of import idx.
func (v *aotVM) CallImport(idx int, args []uint64) (uint64, error) {
	im := &v.imports[idx]
	if im.fn == nil {
		return 0, v.h.trapWith(fmt.Errorf("loader: import %d has no host function", idx))
	}
	r, err := im.fn(args)
	if err != nil || !im.hasResult {
		return 0, err
	}
	switch im.result {
	case aot.I32:
		return uint64(uint32(r)), nil
	case aot.F64:
		if im.floatBits {
			return uint64(r), nil
		}
		return math.Float64bits(float64(r)), nil
	case aot.F32:
		if im.floatBits {
			return uint64(math.Float32bits(float32(math.Float64frombits(uint64(r))))), nil
		}
		return uint64(math.Float32bits(float32(r))), nil
	}
	return uint64(r), nil
}

func (v *aotVM) data() []byte { return v.inst.Memory() }

func (v *aotVM) grow(pages uint64) (uint64, error) {
	old := v.inst.Grow(pages)
	if old < 0 {
		return 0, fmt.Errorf("loader: memory.grow by %d pages failed", pages)
	}
	return uint64(old), nil
}

func (v *aotVM) export(name string) vmFunc {
	if f, ok := v.funcs[name]; ok {
		return f
	}
	for _, ex := range v.mod.Exports() {
		if ex.Name == name {
			f := &aotFunc{inst: v.inst, name: name}
			v.funcs[name] = f
			return f
		}
	}
	return nil
}

func (f *aotFunc) call(args ...uint64) (uint64, error) { return f.inst.Call(f.name, args...) }

func (v *aotVM) setDeadline(ticks uint64) {
	if ticks >= noDeadline {
		v.inst.SetDeadline(time.Time{})
		return
	}
	v.inst.SetDeadline(time.Now().Add(time.Duration(ticks) * epochTick))
}

func (v *aotVM) isTrap(err error) bool {
	var tr *aot.Trap
	return errors.As(err, &tr) || errors.Is(err, aot.ErrLongjmp)
}

func (v *aotVM) isTimeout(err error) bool { return errors.Is(err, aot.ErrTimeout) }

// trapError gives a trap the message V8 gives it (see wasmtimeVM.trapError).
// wasm2c does not tell a table index out of bounds from a null entry or a
// signature mismatch: both read as the latter.
func (v *aotVM) trapError(err error) (*trapError, bool) {
	if errors.Is(err, aot.ErrLongjmp) {
		// the glue throws Infinity, which JSON.stringify writes as null
		return &trapError{msg: "longjmp outside of any setjmp", thrown: []byte("null")}, true
	}
	var tr *aot.Trap
	if !errors.As(err, &tr) {
		return nil, false
	}
	switch tr.Code {
	case aot.Exhaustion:
		return &trapError{msg: "Maximum call stack size exceeded"}, true
	case aot.OOB:
		return &trapError{msg: "RuntimeError: memory access out of bounds"}, true
	case aot.CallIndirect, aot.NullRef:
		return &trapError{msg: "RuntimeError: null function or function signature mismatch"}, true
	case aot.IntOverflow:
		return &trapError{msg: "RuntimeError: integer overflow"}, true
	case aot.DivByZero:
		return &trapError{msg: "RuntimeError: divide by zero"}, true
	case aot.InvalidConversion:
		return &trapError{msg: "RuntimeError: float unrepresentable in integer range"}, true
	case aot.Unreachable:
		return &trapError{msg: "RuntimeError: unreachable"}, true
	}
	return &trapError{msg: "RuntimeError: " + tr.Code.String()}, true
}

// gasRefill and gasUsed are wasmtimeVM's for a module metered inline.
func (v *aotVM) gasRefill(limit float64) {
	if v.gasUsedSet == nil {
		return
	}
	// setting a global cannot trap
	_, _ = v.gasUsedSet.call(0)
	_, _ = v.gasLimitSet.call(uint64(inlineGasLimit(limit)))
}

func (v *aotVM) gasUsed() (float64, bool) {
	if v.gasUsedGet == nil {
		return 0, false
	}
	used, _ := v.gasUsedGet.call()
	return float64(int64(used)), true
}

func (v *aotVM) gasInline() bool { return v.gasUsedGet != nil }

func (v *aotVM) close() {
	if v.inst != nil {
		v.inst.Close()
		v.inst = nil
	}
}
