package loader

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/aocu/aocu/internal/metering"
	"github.com/aocu/aocu/internal/weavedrive"
)

// firstClock is the first value emscripten_date_now returns on a new instance
// of the modern formats: the reference glue's Date.now counter starts at 10000
// and the glue itself consumes four values while it initialises. See
// Format.firstClock for the old formats.
const firstClock = 10004

// exportFuncs are the exports the host calls, bound by their canonical names
// (legacyExportName maps them to an old module's export names).
type exportFuncs struct {
	handle, malloc, free, stackInit, stackEnd, stackCurrent, stackAlloc, stackRestore, ctors, setThrew *wasmtime.Func
	main, fflush, errnoLocation                                                                        *wasmtime.Func
	startUnwind, stopUnwind, startRewind, stopRewind                                                   *wasmtime.Func
}

// glueState is host state that the reference keeps in the glue's JavaScript
// rather than in linear memory: no memory image carries it, and a new instance
// starts from what loading the module left (instance.fresh).
type glueState struct {
	clock     float64 // the glue's Date.now counter (emscripten_date_now)
	tempRet0  int32   // getTempRet0/setTempRet0 of the old glues
	tzsetDone bool    // __tzset_js.called of the old glues: tzset acts once per instance
}

// floatResults are the host functions whose result is returned as IEEE bits.
var floatResults = map[string]bool{
	"emscripten_date_now": true, "emscripten_get_now": true, "metering_gasUsed": true,
	"legacy_date_now_zero": true, "legacy_get_now_nan": true,
}

// instance is one wasmtime instance of a module with the glue's host state.
// It is not safe for concurrent use.
type instance struct {
	mod   *Module
	spec  formatSpec
	is64  bool
	store *wasmtime.Store
	inst  *wasmtime.Instance
	mem   *wasmtime.Memory
	table *wasmtime.Table
	ex    exportFuncs

	glueState
	fresh glueState // the glue state right after loading
	gas   *metering.Gas
	// gasUsedG and gasLimitG are the globals of a module metered with
	// metering.MeterInline: the gas is counted in wasm, Gas.Used is synced
	// from gasUsedG (nil for other modules).
	gasUsedG, gasLimitG *wasmtime.Global
	// gasUsedF and gasLimitF are the globals of the wasm gas counter
	// (gascounter.go) of a module metered before publication; Gas.Used is
	// synced from gasUsedF (nil for other modules).
	gasUsedF, gasLimitF *wasmtime.Global
	pending             error // the Go error behind the last host trap
	async               struct {
		state asyncState
		data  uint64
		value int64
	}

	ctx      context.Context
	drive    weavedrive.Drive
	driveReq weavedrive.Request
	opened   map[string]weavedrive.File
	files    map[int32]*openFile
	logf     func(string)
	// fs is the glue's file system (memfs.go); freshFS is what loading left,
	// which a new evaluation stream or a rollback starts from again.
	fs, freshFS *memFS

	stackTop, stackEnd uint64
	// freshSize is the memory size the instance had when it was made.
	freshSize uint64
}

// newInstance instantiates the module and initialises it as the glue does
// before the first handle(); gas used meanwhile counts against gasLimit.
func (m *Module) newInstance(drive weavedrive.Drive, logf func(string), gasLimit float64) (*instance, error) {
	h := &instance{
		mod: m, spec: m.spec, is64: m.spec.memory64, gas: metering.NewGas(gasLimit),
		drive: drive, opened: map[string]weavedrive.File{}, files: map[int32]*openFile{}, logf: logf,
		ctx: context.Background(),
	}
	h.clock = m.format.firstClock()
	h.fs = newMemFS(h.tick, h.clock, !isLegacyFormat(m.format))
	h.store = wasmtime.NewStore(m.eng.engine)
	h.store.SetEpochDeadline(math.MaxUint32)
	linker := wasmtime.NewLinker(m.eng.engine)
	defer linker.Close()
	impls := h.hostFuncs()
	if m.legacy != nil {
		maps.Copy(impls, h.legacyHostFuncs(impls))
	}
	for _, d := range m.imports {
		d := d
		if m.wasmGasCounter(d) {
			fn, err := h.newGasCounter(d.params[0])
			if err != nil {
				return nil, err
			}
			if err := linker.Define(h.store, d.module, d.name, fn); err != nil {
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
					dyn = h.exportFunc(dynName)
				}
				return h.invoke(c, dyn, a, d.results)
			}
		} else {
			fn, ok := impls[d.canonical]
			if !ok {
				name := d.module + "." + d.name
				fn = func(c *wasmtime.Caller, a []wasmtime.Val) (int64, *wasmtime.Trap) {
					return 0, h.trapWith(&abortError{"import " + name + " is not supported by aocu"})
				}
			}
			floatBits := floatResults[d.canonical]
			results := d.results
			cb = func(c *wasmtime.Caller, a []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
				r, tr := fn(c, a)
				if tr != nil {
					return nil, tr
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
	inst, err := linker.Instantiate(h.store, m.mod)
	if err != nil {
		return nil, fmt.Errorf("loader: instantiate: %w", err)
	}
	h.inst = inst
	h.mem = inst.GetExport(h.store, legacyExportName(m.format, "memory")).Memory()
	h.table = inst.GetExport(h.store, legacyExportName(m.format, "__indirect_function_table")).Table()
	get := h.exportFunc
	h.ex = exportFuncs{
		handle: get("handle"), malloc: get("malloc"), free: get("free"),
		stackInit: get("emscripten_stack_init"), stackEnd: get("emscripten_stack_get_end"),
		stackCurrent: get("emscripten_stack_get_current"), stackAlloc: get("_emscripten_stack_alloc"),
		stackRestore: get("_emscripten_stack_restore"), ctors: get("__wasm_call_ctors"), setThrew: get("setThrew"),
		main: get("main"), fflush: get("fflush"), errnoLocation: get("__errno_location"),
		startUnwind: get("asyncify_start_unwind"), stopUnwind: get("asyncify_stop_unwind"),
		startRewind: get("asyncify_start_rewind"), stopRewind: get("asyncify_stop_rewind"),
	}
	if u, l := inst.GetExport(h.store, metering.InlineUsedGlobal), inst.GetExport(h.store, metering.InlineLimitGlobal); u != nil && l != nil {
		h.gasUsedG, h.gasLimitG = u.Global(), l.Global()
		h.gasRefill()
	}
	if err := h.initialise(); err != nil {
		return nil, err
	}
	h.fresh = h.glueState
	h.freshFS = h.fs.clone(nil)
	h.freshSize = uint64(h.mem.DataSize(h.store))
	return h, nil
}

// modernInit is what the modern glues do before the first handle():
// stackCheckInit (emscripten_stack_init, writeStackCookie) and initRuntime (the
// constructors). They never call main. The old glues' steps are in legacyGlues.
var modernInit = []legacyInitStep{legacyInitStackInit, legacyInitStackCookieFixZero, legacyInitCtors}

// initialise runs the glue's initialisation steps, then records the stack
// pointer.
func (h *instance) initialise() error {
	steps := modernInit
	if g := h.mod.legacy; g != nil {
		steps = g.init
	}
	mainReturned := false
	for _, st := range steps {
		switch st {
		case legacyInitStackInit:
			if _, err := h.callPtr(h.store, h.ex.stackInit); err != nil {
				return fmt.Errorf("loader: emscripten_stack_init: %w", err)
			}
		case legacyInitStackCookie, legacyInitStackCookieFixZero:
			if err := h.writeStackCookie(st == legacyInitStackCookieFixZero); err != nil {
				return err
			}
		case legacyInitCtors:
			if _, err := h.callPtr(h.store, h.ex.ctors); err != nil {
				return fmt.Errorf("loader: __wasm_call_ctors: %w", err)
			}
		case legacyInitMain:
			mainReturned = h.callMain(0, 0)
		case legacyInitMainArgv:
			argv, err := h.mainArgv()
			if err != nil {
				return err
			}
			mainReturned = h.callMain(1, argv)
		case legacyInitFflush:
			// exit(ret, implicit) after main returned: checkUnflushedContent()
			// calls fflush(0) inside try/catch.
			if mainReturned && h.ex.fflush != nil {
				if _, err := h.callPtr(h.store, h.ex.fflush, 0); err != nil {
					h.log(fmt.Sprintf("fflush after main: %v\n", h.classify(err)))
				}
			}
		}
	}
	var err error
	if h.stackTop, err = h.callPtr(h.store, h.ex.stackCurrent); err != nil {
		return fmt.Errorf("loader: emscripten_stack_get_current: %w", err)
	}
	return nil
}

// writeStackCookie is the glue's writeStackCookie(); fixZero: the newer glues
// move a stack end of 0 to 4.
func (h *instance) writeStackCookie(fixZero bool) error {
	end, err := h.callPtr(h.store, h.ex.stackEnd)
	if err != nil {
		return fmt.Errorf("loader: emscripten_stack_get_end: %w", err)
	}
	h.stackEnd = end
	if fixZero && end == 0 {
		end += 4
	}
	d := h.data(h.store)
	if !inBounds(d, end, 8) {
		return fmt.Errorf("%w: stack end %d outside memory", ErrInvalidModule, end)
	}
	binary.LittleEndian.PutUint32(d[end:], 0x02135467)
	binary.LittleEndian.PutUint32(d[end+4:], 0x89BACDFE)
	binary.LittleEndian.PutUint32(d[0:], 0x63736D65)
	return nil
}

// callMain is callMain() of the old glues: main(argc, argv). A trap, an exit()
// or running out of gas in main is ignored, as in the reference, where it only
// reaches the already resolved loader promise. It reports whether main returned.
func (h *instance) callMain(argc, argv uint64) bool {
	if _, err := h.callPtr(h.store, h.ex.main, argc, argv); err != nil {
		h.log(fmt.Sprintf("main: %v (ignored, as the reference does)\n", h.classify(err)))
		return false
	}
	return true
}

// mainArgv builds main's argv on the stack as emscripten2's callMain(args)
// does: argv = stackAlloc(8), then thisProgram and its NUL in a slot of its
// own; argv = {thisProgram, NULL}. The stack is not restored afterwards.
func (h *instance) mainArgv() (uint64, error) {
	argv, err := h.callPtr(h.store, h.ex.stackAlloc, 8)
	if err != nil {
		return 0, fmt.Errorf("loader: stack alloc: %w", err)
	}
	prog := []byte(h.mod.eng.thisProgram)
	s, err := h.stackAllocString(prog, uint64(len(prog))+1)
	if err != nil {
		return 0, err
	}
	d := h.data(h.store)
	if !inBounds(d, argv, 8) {
		return 0, fmt.Errorf("%w: argv %d outside memory", ErrInvalidModule, argv)
	}
	binary.LittleEndian.PutUint32(d[argv:], uint32(s))
	binary.LittleEndian.PutUint32(d[argv+4:], 0)
	return argv, nil
}

// exportFunc returns the export that plays the canonical role name (see
// legacyExportName), or nil.
func (h *instance) exportFunc(name string) *wasmtime.Func {
	if h.inst == nil {
		return nil
	}
	if name = legacyExportName(h.mod.format, name); name == "" {
		return nil
	}
	return h.inst.GetFunc(h.store, name)
}

func (h *instance) close() {
	if h.store != nil {
		h.store.Close()
		h.store = nil
	}
}

func (h *instance) log(s string) {
	if h.logf != nil {
		h.logf(s)
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

// callPtr calls an export whose parameters and result are integers, passing
// each argument with the width of the corresponding parameter.
func (h *instance) callPtr(s wasmtime.Storelike, f *wasmtime.Func, args ...uint64) (uint64, error) {
	if f == nil {
		return 0, fmt.Errorf("%w: missing export", ErrInvalidModule)
	}
	params := f.Type(s).Params()
	in := make([]interface{}, len(args))
	for i, a := range args {
		if i < len(params) && params[i].Kind() == wasmtime.KindI64 {
			in[i] = int64(a)
		} else {
			in[i] = int32(uint32(a))
		}
	}
	r, err := f.Call(s, in...)
	if err != nil {
		return 0, err
	}
	switch v := r.(type) {
	case int32:
		return uint64(uint32(v)), nil
	case int64:
		return uint64(v), nil
	}
	return 0, nil
}

// trapErr turns an error from a nested export call into a trap that keeps the
// original trap (and its code) when there is one.
func (h *instance) trapErr(err error) *wasmtime.Trap {
	var tr *wasmtime.Trap
	if errors.As(err, &tr) {
		return tr
	}
	if h.pending != nil {
		// A host error raised deeper down is on its way out: keep it.
		return wasmtime.NewTrap(h.pending.Error())
	}
	if isInterrupt(err) {
		return h.trapWith(ErrTimeout)
	}
	return h.trapWith(err)
}

// isInterrupt recognises the epoch-deadline trap when it arrives wrapped in a
// *wasmtime.Error rather than as a *wasmtime.Trap.
func isInterrupt(err error) bool {
	var tr *wasmtime.Trap
	if errors.As(err, &tr) {
		if c := tr.Code(); c != nil && int(*c) == 10 {
			return true
		}
	}
	return strings.Contains(err.Error(), "wasm trap: interrupt")
}

// invoke is emscripten's invoke_<sig>: call table[idx](args...) and turn a
// longjmp into setThrew(1, 0), restoring the stack pointer.
func (h *instance) invoke(c *wasmtime.Caller, dyn *wasmtime.Func, a []wasmtime.Val, results []wasmtime.ValKind) ([]wasmtime.Val, *wasmtime.Trap) {
	sp, err := h.callPtr(c, h.ex.stackCurrent)
	if err != nil {
		return nil, h.trapErr(err)
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
		for i, v := range a[1:] {
			args[i+1] = v
		}
	} else {
		fv, err := h.table.Get(c, h.ptr(a[0]))
		if err != nil {
			return nil, h.trapWith(fmt.Errorf("invoke: table index %d: %w", h.ptr(a[0]), err))
		}
		if f = fv.Funcref(); f == nil {
			return nil, h.trapWith(&abortError{"RuntimeError: null function or function signature mismatch"})
		}
		args = make([]interface{}, len(a)-1)
		for i, v := range a[1:] {
			args[i] = v
		}
	}
	res, err := f.Call(c, args...)
	if err != nil {
		if errors.Is(h.pending, errLongjmp) {
			h.pending = nil
			if _, e := h.callPtr(c, h.ex.stackRestore, sp); e != nil {
				return nil, h.trapErr(e)
			}
			if _, e := h.callPtr(c, h.ex.setThrew, 1, 0); e != nil {
				return nil, h.trapErr(e)
			}
			return zeroVals(results), nil
		}
		return nil, h.trapErr(err)
	}
	if len(results) == 0 {
		return nil, nil
	}
	switch v := res.(type) {
	case int32:
		return []wasmtime.Val{wasmtime.ValI32(v)}, nil
	case int64:
		return []wasmtime.Val{wasmtime.ValI64(v)}, nil
	case float32:
		return []wasmtime.Val{wasmtime.ValF32(v)}, nil
	case float64:
		return []wasmtime.Val{wasmtime.ValF64(v)}, nil
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

// argSize is the stack slot the glue reserves for a string argument.
func (h *instance) argSize(b []byte) uint64 { return legacyStringSlot(h.mod.format, b) }

// ErrMessageTooLarge: the message and env do not fit the module's stack, where
// the glue places them (the reference would corrupt memory).
var ErrMessageTooLarge = errors.New("message too large for the module's stack")

// call runs handle(msg, env) exactly as the glue's ccall does, including the
// Asyncify unwind/rewind loop, and returns the response string.
func (h *instance) call(msg, env []byte, deadlineTicks uint64) (string, error) {
	h.pending = nil
	h.gasRefill()
	sp, err := h.callPtr(h.store, h.ex.stackCurrent)
	if err != nil {
		return "", fmt.Errorf("loader: stackSave: %w", err)
	}
	ms, es := h.argSize(msg), h.argSize(env)
	if free := sp - h.stackEnd; sp < h.stackEnd || ms+es+64 > free {
		return "", fmt.Errorf("%w: %d + %d bytes, stack has %d bytes free", ErrMessageTooLarge, ms, es, sp-h.stackEnd)
	}
	pm, err := h.stackAllocString(msg, ms)
	if err != nil {
		return "", err
	}
	pe, err := h.stackAllocString(env, es)
	if err != nil {
		return "", err
	}
	if deadlineTicks == 0 {
		deadlineTicks = math.MaxUint32
	}
	h.store.SetEpochDeadline(deadlineTicks)
	defer h.store.SetEpochDeadline(math.MaxUint32)
	for {
		r, err := h.callPtr(h.store, h.ex.handle, pm, pe)
		if err != nil {
			return "", h.classify(err)
		}
		if h.async.state == asyncUnwinding {
			if _, err := h.callPtr(h.store, h.ex.stopUnwind); err != nil {
				return "", h.classify(err)
			}
			h.async.state = asyncRewinding
			if _, err := h.callPtr(h.store, h.ex.startRewind, h.async.data); err != nil {
				return "", h.classify(err)
			}
			continue
		}
		if h.async.state != asyncNormal {
			return "", fmt.Errorf("loader: handle returned while Asyncify was rewinding")
		}
		out := utf8ToString(h.data(h.store), r)
		if _, err := h.callPtr(h.store, h.ex.stackRestore, sp); err != nil {
			return "", h.classify(err)
		}
		return out, nil
	}
}

func (h *instance) stackAllocString(b []byte, size uint64) (uint64, error) {
	p, err := h.callPtr(h.store, h.ex.stackAlloc, size)
	if err != nil {
		return 0, fmt.Errorf("loader: stack alloc: %w", err)
	}
	d := h.data(h.store)
	if !inBounds(d, p, uint64(len(b))+1) {
		return 0, fmt.Errorf("%w: stack slot outside memory", ErrMessageTooLarge)
	}
	copy(d[p:], b)
	d[p+uint64(len(b))] = 0
	return p, nil
}

// trapError is a wasm trap or glue abort: the reference handle() rejects with
// a JavaScript Error of this message (what the reference loader's callers
// print), which the reference CU records as the message's Error: thrown is
// JSON.stringify of the thrown value there, nil for an Error object ({}).
type trapError struct {
	msg    string
	thrown json.RawMessage
}

func (e *trapError) Error() string { return e.msg }

// classify maps a failed call to the error the caller sees.
func (h *instance) classify(err error) error {
	if p := h.pending; p != nil {
		h.pending = nil
		var ab *abortError
		var ex *exitError
		switch {
		case errors.As(p, &ab):
			return &trapError{msg: ab.msg}
		case errors.As(p, &ex):
			thrown := fmt.Appendf(nil, `{"name":"ExitStatus","message":"%s","status":%d}`, ex.Error(), ex.status)
			return &trapError{msg: ex.Error(), thrown: thrown}
		case errors.Is(p, errOOB):
			return &trapError{msg: "RuntimeError: memory access out of bounds"}
		case errors.Is(p, errLongjmp):
			// the glue throws Infinity, which JSON.stringify writes as null
			return &trapError{msg: "longjmp outside of any setjmp", thrown: json.RawMessage("null")}
		}
		return p
	}
	if isInterrupt(err) {
		return ErrTimeout
	}
	var tr *wasmtime.Trap
	if errors.As(err, &tr) {
		if code := tr.Code(); code != nil {
			switch int(*code) {
			case 10: // Interrupt (C API numbering): the epoch deadline passed
				return ErrTimeout
			case 0:
				// V8's RangeError; the reference reports its message.
				return &trapError{msg: "Maximum call stack size exceeded"}
			case 1:
				return &trapError{msg: "RuntimeError: memory access out of bounds"}
			case 3:
				return &trapError{msg: "RuntimeError: table index is out of bounds"}
			case 4, 5:
				return &trapError{msg: "RuntimeError: null function or function signature mismatch"}
			case 6:
				return &trapError{msg: "RuntimeError: integer overflow"}
			case 7:
				return &trapError{msg: "RuntimeError: divide by zero"}
			case 8:
				return &trapError{msg: "RuntimeError: float unrepresentable in integer range"}
			case 9:
				return &trapError{msg: "RuntimeError: unreachable"}
			}
		}
		return &trapError{msg: "RuntimeError: " + tr.Message()}
	}
	return fmt.Errorf("loader: %w", err)
}

// gasRefill is gas.refill(): the used gas restarts at 0 for a call.
func (h *instance) gasRefill() {
	h.gas.Refill()
	if h.gasUsedG != nil {
		limit := int64(math.MaxInt64)
		if f := math.Floor(h.gas.Limit); f < math.MaxInt64 {
			limit = int64(f) // an integer count exceeds Limit iff it exceeds floor(Limit)
		}
		h.gasUsedG.Set(h.store, wasmtime.ValI64(0))
		h.gasLimitG.Set(h.store, wasmtime.ValI64(limit))
	}
	if h.gasUsedF != nil {
		h.gasUsedF.Set(h.store, wasmtime.ValF64(0))
		h.gasLimitF.Set(h.store, wasmtime.ValF64(h.gas.Limit))
	}
}

// gasUsed is gas.used, synced from the module's counter when it has one
// (integer sums are exact below 2^53, beyond any limit used).
func (h *instance) gasUsed() float64 {
	if h.gasUsedG != nil {
		h.gas.Used = float64(h.gasUsedG.Get(h.store).I64())
	}
	if h.gasUsedF != nil {
		h.gas.Used = h.gasUsedF.Get(h.store).F64()
	}
	return h.gas.Used
}
