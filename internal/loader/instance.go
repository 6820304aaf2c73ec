package loader

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

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
	handle, malloc, free, stackInit, stackEnd, stackCurrent, stackAlloc, stackRestore, ctors, setThrew vmFunc
	main, fflush, errnoLocation                                                                        vmFunc
	startUnwind, stopUnwind, startRewind, stopRewind                                                   vmFunc
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

// instance is one instance of a module with the glue's host state. It is not
// safe for concurrent use.
type instance struct {
	mod  *Module
	spec formatSpec
	is64 bool
	vm   vm
	ex   exportFuncs

	glueState
	fresh   glueState // the glue state right after loading
	gas     *metering.Gas
	pending error // the Go error behind the last host trap
	async   struct {
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
	var err error
	if am := m.aot.Load(); am != nil {
		_, err = h.instantiateAOT(am, h.importImpls())
	} else {
		_, err = h.instantiateWasmtime(h.importImpls())
	}
	if err != nil {
		h.close()
		return nil, err
	}
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
	if h.vm.gasInline() {
		h.gasRefill()
	}
	if err := h.initialise(); err != nil {
		return nil, err
	}
	h.fresh = h.glueState
	h.freshFS = h.fs.clone(nil)
	h.freshSize = h.memSize()
	return h, nil
}

// importImpls is the host function of every import by its canonical name,
// including the imports the glue does not provide, which trap.
func (h *instance) importImpls() map[string]hostFn {
	impls := h.hostFuncs()
	if h.mod.legacy != nil {
		maps.Copy(impls, h.legacyHostFuncs(impls))
	}
	for _, d := range h.mod.imports {
		if _, ok := impls[d.canonical]; !ok && !strings.HasPrefix(d.canonical, "invoke_") {
			name := d.module + "." + d.name
			impls[d.canonical] = func([]uint64) (int64, error) {
				return 0, h.trapWith(&abortError{"import " + name + " is not supported by aocu"})
			}
		}
	}
	return impls
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
			if _, err := h.callPtr(h.ex.stackInit); err != nil {
				return fmt.Errorf("loader: emscripten_stack_init: %w", err)
			}
		case legacyInitStackCookie, legacyInitStackCookieFixZero:
			if err := h.writeStackCookie(st == legacyInitStackCookieFixZero); err != nil {
				return err
			}
		case legacyInitCtors:
			if _, err := h.callPtr(h.ex.ctors); err != nil {
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
				if _, err := h.callPtr(h.ex.fflush, 0); err != nil {
					h.log(fmt.Sprintf("fflush after main: %v\n", h.classify(err)))
				}
			}
		}
	}
	var err error
	if h.stackTop, err = h.callPtr(h.ex.stackCurrent); err != nil {
		return fmt.Errorf("loader: emscripten_stack_get_current: %w", err)
	}
	return nil
}

// writeStackCookie is the glue's writeStackCookie(); fixZero: the newer glues
// move a stack end of 0 to 4.
func (h *instance) writeStackCookie(fixZero bool) error {
	end, err := h.callPtr(h.ex.stackEnd)
	if err != nil {
		return fmt.Errorf("loader: emscripten_stack_get_end: %w", err)
	}
	h.stackEnd = end
	if fixZero && end == 0 {
		end += 4
	}
	d := h.data()
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
	if _, err := h.callPtr(h.ex.main, argc, argv); err != nil {
		h.log(fmt.Sprintf("main: %v (ignored, as the reference does)\n", h.classify(err)))
		return false
	}
	return true
}

// mainArgv builds main's argv on the stack as emscripten2's callMain(args)
// does: argv = stackAlloc(8), then thisProgram and its NUL in a slot of its
// own; argv = {thisProgram, NULL}. The stack is not restored afterwards.
func (h *instance) mainArgv() (uint64, error) {
	argv, err := h.callPtr(h.ex.stackAlloc, 8)
	if err != nil {
		return 0, fmt.Errorf("loader: stack alloc: %w", err)
	}
	prog := []byte(h.mod.eng.thisProgram)
	s, err := h.stackAllocString(prog, uint64(len(prog))+1)
	if err != nil {
		return 0, err
	}
	d := h.data()
	if !inBounds(d, argv, 8) {
		return 0, fmt.Errorf("%w: argv %d outside memory", ErrInvalidModule, argv)
	}
	binary.LittleEndian.PutUint32(d[argv:], uint32(s))
	binary.LittleEndian.PutUint32(d[argv+4:], 0)
	return argv, nil
}

// exportFunc returns the export that plays the canonical role name (see
// legacyExportName), or nil.
func (h *instance) exportFunc(name string) vmFunc {
	if h.vm == nil {
		return nil
	}
	if name = legacyExportName(h.mod.format, name); name == "" {
		return nil
	}
	return h.vm.export(name)
}

func (h *instance) close() {
	if h.vm != nil {
		h.vm.close()
		h.vm = nil
	}
}

func (h *instance) log(s string) {
	if h.logf != nil {
		h.logf(s)
	}
}

// callPtr calls an export whose parameters and result are integers.
func (h *instance) callPtr(f vmFunc, args ...uint64) (uint64, error) {
	if f == nil {
		return 0, fmt.Errorf("%w: missing export", ErrInvalidModule)
	}
	return f.call(args...)
}

// trapErr is the error a host function returns when a nested export call
// failed: the engine's trap as it is (with its code), else the host error
// raised deeper down, which is on its way out.
func (h *instance) trapErr(err error) error {
	if h.vm.isTrap(err) {
		return err
	}
	if h.pending != nil {
		return h.pending
	}
	if h.vm.isTimeout(err) {
		return h.trapWith(ErrTimeout)
	}
	return h.trapWith(err)
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
	sp, err := h.callPtr(h.ex.stackCurrent)
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
		deadlineTicks = noDeadline
	}
	h.vm.setDeadline(deadlineTicks)
	defer h.vm.setDeadline(noDeadline)
	for {
		r, err := h.callPtr(h.ex.handle, pm, pe)
		if err != nil {
			return "", h.classify(err)
		}
		if h.async.state == asyncUnwinding {
			if _, err := h.callPtr(h.ex.stopUnwind); err != nil {
				return "", h.classify(err)
			}
			h.async.state = asyncRewinding
			if _, err := h.callPtr(h.ex.startRewind, h.async.data); err != nil {
				return "", h.classify(err)
			}
			continue
		}
		if h.async.state != asyncNormal {
			return "", fmt.Errorf("loader: handle returned while Asyncify was rewinding")
		}
		out := utf8ToString(h.data(), r)
		if _, err := h.callPtr(h.ex.stackRestore, sp); err != nil {
			return "", h.classify(err)
		}
		return out, nil
	}
}

func (h *instance) stackAllocString(b []byte, size uint64) (uint64, error) {
	p, err := h.callPtr(h.ex.stackAlloc, size)
	if err != nil {
		return 0, fmt.Errorf("loader: stack alloc: %w", err)
	}
	d := h.data()
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
	if h.vm.isTimeout(err) {
		return ErrTimeout
	}
	if te, ok := h.vm.trapError(err); ok {
		return te
	}
	return fmt.Errorf("loader: %w", err)
}

// gasRefill is gas.refill(): the used gas restarts at 0 for a call.
func (h *instance) gasRefill() {
	h.gas.Refill()
	h.vm.gasRefill(h.gas.Limit)
}

// countsGas: the module counts its gas itself (metered inline or with the
// wasm gas counter).
func (h *instance) countsGas() bool {
	_, ok := h.vm.gasUsed()
	return ok
}

// gasUsed is gas.used, synced from the module's counter when it has one.
func (h *instance) gasUsed() float64 {
	if used, ok := h.vm.gasUsed(); ok {
		h.gas.Used = used
	}
	return h.gas.Used
}
