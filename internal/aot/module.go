package aot

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "host.h"
#include "rt/wasm-rt.h"

static const aot_module* aot_load(void* lib) {
	aot_init_fn init = (aot_init_fn)dlsym(lib, "aot_init");
	if (!init) return NULL;
	aot_host_init();
	return init(aot_host_api());
}
static void* aot_new(const aot_module* m, uintptr_t ctx) { return m->alloc(ctx); }
static int aot_instantiate(const aot_module* m, void* inst) {
	return aot_call(m->instantiate, inst, NULL, NULL, -1);
}
static void aot_delete(const aot_module* m, void* inst) { m->free(inst); }
static void* aot_memory(const aot_module* m, void* inst) { return m->memory(inst); }
static uint64_t aot_grow(const aot_module* m, void* inst, uint64_t pages) { return m->grow(inst, pages); }
static int aot_invoke(const aot_export* e, void* inst, const uint64_t* args, uint64_t* ret, int64_t ns) {
	return aot_call(e->fn, inst, args, ret, ns);
}
static uintptr_t aot_sig_handler(int sig) {
	struct sigaction sa;
	if (sigaction(sig, NULL, &sa) != 0) return 0;
	return (uintptr_t)sa.sa_sigaction;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// Kind is the type of a wasm value.
type Kind uint8

const (
	I32 Kind = iota
	I64
	F32
	F64
)

func (k Kind) String() string {
	switch k {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// FuncType is a function's signature.
type FuncType struct{ Params, Results []Kind }

func (f FuncType) String() string { return fmt.Sprintf("%v -> %v", f.Params, f.Results) }

// Import is one of a module's function imports, in the order of its import
// section (Host.CallImport's index).
type Import struct {
	Module, Name string
	Type         FuncType
	// Builtin imports (emscripten's invoke_* and _emscripten_throw_longjmp)
	// are handled in C and never reach the Host.
	Builtin bool
}

// Export is one of a module's function exports (only those of i32, i64,
// f32 and f64 with at most one result).
type Export struct {
	Name string
	Type FuncType
}

// Host implements a module's imports (all except the Builtin ones).
type Host interface {
	// CallImport runs import number idx (an index into Module.Imports())
	// with the raw bits of its arguments (i32 zero-extended to uint64, i64
	// as is, f32/f64 as IEEE bits via math.Float32bits/Float64bits) and
	// returns the raw bits of its result (0 when it has none). args is valid
	// only during the call. A non-nil error traps the wasm code: the
	// innermost Instance.Call returns exactly that error. A panic is
	// carried out of the wasm code and re-raised by that Call.
	CallImport(idx int, args []uint64) (uint64, error)
}

// TrapCode says why wasm code trapped.
type TrapCode int

const (
	OOB               TrapCode = 1
	IntOverflow       TrapCode = 2
	DivByZero         TrapCode = 3
	InvalidConversion TrapCode = 4
	Unreachable       TrapCode = 5
	CallIndirect      TrapCode = 6 // a null or out-of-range table entry, or a signature mismatch
	NullRef           TrapCode = 7
	UncaughtException TrapCode = 8
	Unaligned         TrapCode = 9
	Exhaustion        TrapCode = 10 // the native stack
	AllocFailed       TrapCode = 103
	TimerFailed       TrapCode = 104
)

func (c TrapCode) String() string {
	switch c {
	case OOB:
		return "out of bounds memory access"
	case IntOverflow:
		return "integer overflow"
	case DivByZero:
		return "integer divide by zero"
	case InvalidConversion:
		return "invalid conversion to integer"
	case Unreachable:
		return "unreachable executed"
	case CallIndirect:
		return "indirect call to a null or mismatched function"
	case NullRef:
		return "null reference"
	case UncaughtException:
		return "uncaught exception"
	case Unaligned:
		return "unaligned atomic"
	case Exhaustion:
		return "call stack exhausted"
	case AllocFailed:
		return "cannot allocate linear memory or a table"
	case TimerFailed:
		return "cannot arm the deadline timer"
	}
	return fmt.Sprintf("trap %d", int(c))
}

// Trap is the error of a Call that trapped.
type Trap struct{ Code TrapCode }

func (t *Trap) Error() string { return "wasm trap: " + t.Code.String() }

var (
	// ErrTimeout: the Call (or a Call it is nested in) passed its deadline.
	// The instance's memory is then in an arbitrary state: discard it.
	ErrTimeout = errors.New("aot: deadline exceeded")
	// ErrLongjmp: _emscripten_throw_longjmp with no invoke_* active in the
	// Call.
	ErrLongjmp = errors.New("aot: longjmp with no setjmp active (_emscripten_throw_longjmp outside invoke_*)")
	// ErrClosed: the instance was closed.
	ErrClosed = errors.New("aot: instance closed")
)

// Module is a compiled module: a dlopened shared object. It is never
// unloaded. Its methods may be called concurrently.
type Module struct {
	path      string
	desc      *C.aot_module
	imports   []Import
	exports   []Export
	exportIdx map[string]int
	maxParams int
}

var loadMu sync.Mutex

func load(path string) (*Module, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	lib := C.dlopen(cpath, C.RTLD_NOW|C.RTLD_LOCAL)
	if lib == nil {
		return nil, fmt.Errorf("aot: dlopen %s: %s", path, C.GoString(C.dlerror()))
	}
	desc := C.aot_load(lib)
	if desc == nil {
		return nil, fmt.Errorf("aot: %s: no aot_init, or another ABI version", path)
	}
	m := &Module{path: path, desc: desc, exportIdx: map[string]int{}}
	kinds := func(s string) []Kind {
		var ks []Kind
		for _, c := range s {
			ks = append(ks, map[rune]Kind{'i': I32, 'j': I64, 'f': F32, 'd': F64}[c])
		}
		return ks
	}
	for _, im := range unsafe.Slice(desc.imports, int(desc.nimports)) {
		ts := kinds(C.GoString(im.types))
		np := int(im.nparams)
		m.imports = append(m.imports, Import{
			Module:  C.GoString(im.module),
			Name:    C.GoString(im.name),
			Type:    FuncType{Params: ts[:np:np], Results: ts[np:]},
			Builtin: im.builtin != 0,
		})
	}
	for i, ex := range unsafe.Slice(desc.exports, int(desc.nexports)) {
		ts := kinds(C.GoString(ex.types))
		np := int(ex.nparams)
		name := C.GoString(ex.name)
		m.exports = append(m.exports, Export{Name: name, Type: FuncType{Params: ts[:np:np], Results: ts[np:]}})
		m.exportIdx[name] = i
		m.maxParams = max(m.maxParams, np)
	}
	return m, nil
}

// Path is the shared object's file.
func (m *Module) Path() string { return m.path }

// Imports are the module's function imports in import-section order.
func (m *Module) Imports() []Import { return m.imports }

// Exports are the module's callable function exports.
func (m *Module) Exports() []Export { return m.exports }

// Memory64 says whether the module's memory is a memory64.
func (m *Module) Memory64() bool { return m.desc.memory64 == 1 }

// Instance is an instance of a Module. It is used by one goroutine at a
// time; instances of one module may run concurrently.
type Instance struct {
	m        *Module
	host     Host
	handle   cgo.Handle
	inst     unsafe.Pointer
	mem      *C.wasm_rt_memory_t
	args     *C.uint64_t // C memory: maxParams slots, then the result
	ret      *C.uint64_t
	deadline time.Time

	hostErr   error // the error of the host import that trapped
	hostPanic any   // a panic in the host import, re-raised by Call
	panicked  bool
}

// Instantiate creates an instance: its memory and tables, data and element
// segments, and the start function if any (which may call h).
func (m *Module) Instantiate(h Host) (*Instance, error) {
	i := &Instance{m: m, host: h}
	i.handle = cgo.NewHandle(i)
	i.inst = C.aot_new(m.desc, C.uintptr_t(i.handle))
	if i.inst == nil {
		i.handle.Delete()
		return nil, &Trap{Code: AllocFailed}
	}
	n := m.maxParams + 1
	i.args = (*C.uint64_t)(C.calloc(C.size_t(n), 8))
	i.ret = (*C.uint64_t)(unsafe.Add(unsafe.Pointer(i.args), 8*m.maxParams))
	code := C.aot_instantiate(m.desc, i.inst)
	if err := i.result(int(code)); err != nil {
		i.Close()
		return nil, err
	}
	i.mem = (*C.wasm_rt_memory_t)(C.aot_memory(m.desc, i.inst))
	return i, nil
}

// Module is the instance's module.
func (i *Instance) Module() *Module { return i.m }

// SetDeadline makes the Calls started after it run under the deadline d
// (zero: none). A Call that passes it returns ErrTimeout, and so do the
// Calls it is nested in.
func (i *Instance) SetDeadline(d time.Time) { i.deadline = d }

// result turns a trap code into the Call's error.
func (i *Instance) result(code int) error {
	err, p, panicked := i.hostErr, i.hostPanic, i.panicked
	i.hostErr, i.hostPanic, i.panicked = nil, nil, false
	switch code {
	case 0:
		return nil
	case C.AOT_TRAP_HOST:
		if panicked {
			panic(p)
		}
		if err == nil {
			err = errors.New("aot: a host import failed without an error")
		}
		return err
	case C.AOT_TRAP_TIMEOUT:
		return ErrTimeout
	case C.AOT_TRAP_LONGJMP:
		return ErrLongjmp
	}
	return &Trap{Code: TrapCode(code)}
}

// Call calls the export name with the raw bits of its arguments (as
// Host.CallImport's) and returns the raw bits of its result (0 without
// one). It may be called again from inside Host.CallImport (nested).
func (i *Instance) Call(name string, args ...uint64) (uint64, error) {
	if i.inst == nil {
		return 0, ErrClosed
	}
	idx, ok := i.m.exportIdx[name]
	if !ok {
		return 0, fmt.Errorf("aot: no exported function %q", name)
	}
	ex := &i.m.exports[idx]
	if len(args) != len(ex.Type.Params) {
		return 0, fmt.Errorf("aot: %s takes %d arguments, not %d", name, len(ex.Type.Params), len(args))
	}
	ns := int64(-1)
	if !i.deadline.IsZero() {
		ns = max(int64(time.Until(i.deadline)), 0)
	}
	copy(unsafe.Slice((*uint64)(unsafe.Pointer(i.args)), len(args)), args)
	cex := (*C.aot_export)(unsafe.Add(unsafe.Pointer(i.m.desc.exports), uintptr(idx)*unsafe.Sizeof(C.aot_export{})))
	code := C.aot_invoke(cex, i.inst, i.args, i.ret, C.int64_t(ns))
	if code != 0 {
		return 0, i.result(int(code))
	}
	if len(ex.Type.Results) == 0 {
		return 0, nil
	}
	return uint64(*i.ret), nil
}

// Memory is the linear memory at its current size (nil without one),
// valid until the memory grows (by Grow or by wasm code).
func (i *Instance) Memory() []byte {
	if i.mem == nil || i.mem.data == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(i.mem.data)), int(i.mem.size))
}

// Grow grows the memory by pages (wasm's memory.grow): the old size in
// pages, or -1.
func (i *Instance) Grow(pages uint64) (oldPages int64) {
	if i.mem == nil {
		return -1
	}
	r := uint64(C.aot_grow(i.m.desc, i.inst, C.uint64_t(pages)))
	if r == ^uint64(0) {
		return -1
	}
	return int64(r)
}

// Close frees the instance (its memory is unmapped).
func (i *Instance) Close() {
	if i.inst == nil {
		return
	}
	C.aot_delete(i.m.desc, i.inst)
	C.free(unsafe.Pointer(i.args))
	i.handle.Delete()
	i.inst, i.mem, i.args, i.ret = nil, nil, nil, nil
}

// faultHandlers are, for tests: the address of the tier's SIGSEGV/SIGBUS
// handler, the handlers it chains to (0 before the first module is
// loaded), and the handlers installed now (the process's, not the tier's).
func faultHandlers() (ours, prevSEGV, prevBUS, curSEGV, curBUS uintptr) {
	return uintptr(C.aot_fault_handler()), uintptr(C.aot_fault_prev(C.SIGSEGV)), uintptr(C.aot_fault_prev(C.SIGBUS)),
		uintptr(C.aot_sig_handler(C.SIGSEGV)), uintptr(C.aot_sig_handler(C.SIGBUS))
}

// guardCount is, for tests, the number of memory32 reservations registered
// with the fault handler (one per live memory32 instance).
func guardCount() int { return int(C.aot_guard_count()) }

// guardTraps is, for tests, the number of faults on memory32 guard pages
// the handler turned into out-of-bounds traps.
func guardTraps() uint64 { return uint64(C.aot_guard_traps()) }
