package aot

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// memory32's guard pages: out-of-bounds accesses of memory32 modules are
// faults on the PROT_NONE part of an 8 GiB reservation, turned into traps
// by host.c's SIGSEGV/SIGBUS handler, which chains every other fault to the
// handler installed before it (wasmtime's here, as in the loader, which
// chains to Go's).

// wt is a wasmtime engine made before the first AOT module of the test
// binary (setupWasmtime, from TestMain), with a memory32 module whose loads
// trap out of bounds by wasmtime's own guard pages.
var wt struct {
	goSEGV, goBUS uintptr // the process's handlers before the engine (Go's)
	wtSEGV, wtBUS uintptr // after the engine and its first trap (wasmtime's)
	engine        *wasmtime.Engine
	store         *wasmtime.Store
	load          *wasmtime.Func
	mu            sync.Mutex // the store is used by one goroutine at a time
	before        error      // wasmtimeOOB before anything of the AOT tier
}

func setupWasmtime() {
	_, _, _, wt.goSEGV, wt.goBUS = faultHandlers()
	wt.engine = wasmtime.NewEngine()
	wt.before = func() error {
		wasm, err := wasmtime.Wat2Wasm(`(module
			(memory 1)
			(func (export "load") (param i32) (result i32) local.get 0 i32.load offset=16))`)
		if err != nil {
			return err
		}
		mod, err := wasmtime.NewModule(wt.engine, wasm)
		if err != nil {
			return err
		}
		wt.store = wasmtime.NewStore(wt.engine)
		inst, err := wasmtime.NewInstance(wt.store, mod, nil)
		if err != nil {
			return err
		}
		wt.load = inst.GetFunc(wt.store, "load")
		return wasmtimeOOB()
	}()
	_, _, _, wt.wtSEGV, wt.wtBUS = faultHandlers()
}

// wasmtimeOOB checks that wasmtime's memory32 module loads in bounds and
// traps MemoryOutOfBounds (a wasmtime.Trap, not a crash) past the end.
func wasmtimeOOB() error {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if wt.load == nil {
		return errors.New("no wasmtime module")
	}
	if v, err := wt.load.Call(wt.store, int32(65536-20)); err != nil || v.(int32) != 0 {
		return fmt.Errorf("wasmtime in-bounds load: %v %v", v, err)
	}
	for _, addr := range []uint32{65536 - 19, 65536, 1 << 20, 0xfffffff0} {
		_, err := wt.load.Call(wt.store, int32(addr))
		var tr *wasmtime.Trap
		if !errors.As(err, &tr) {
			return fmt.Errorf("wasmtime load at %#x: %v (%T), want a trap", addr, err, err)
		}
		if c := tr.Code(); c == nil || *c != wasmtime.MemoryOutOfBounds {
			return fmt.Errorf("wasmtime load at %#x: trap %v (code %v), want out of bounds", addr, tr, c)
		}
	}
	return nil
}

// mapping is a line of /proc/self/maps.
type mapping struct {
	lo, hi uintptr
	perms  string
	inode  string
	path   string
}

func readMaps(t *testing.T) []mapping {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	defer f.Close()
	var ms []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 {
			continue
		}
		r := strings.SplitN(fs[0], "-", 2)
		lo, _ := strconv.ParseUint(r[0], 16, 64)
		hi, _ := strconv.ParseUint(r[1], 16, 64)
		m := mapping{lo: uintptr(lo), hi: uintptr(hi), perms: fs[1], inode: fs[4]}
		if len(fs) > 5 {
			m.path = fs[5]
		}
		ms = append(ms, m)
	}
	return ms
}

// checkCovered fails unless [lo, hi) is covered by private anonymous
// mappings with permissions perms.
func checkCovered(t *testing.T, ms []mapping, lo, hi uintptr, perms string) {
	t.Helper()
	for at := lo; at < hi; {
		found := false
		for _, m := range ms {
			if m.lo <= at && at < m.hi {
				if m.perms != perms || m.inode != "0" || m.path != "" {
					t.Fatalf("%#x (reservation offset %#x): mapping %#x-%#x %s inode %s %q, want %s private anonymous",
						at, at-lo, m.lo, m.hi, m.perms, m.inode, m.path, perms)
				}
				at = m.hi
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("%#x: not mapped (want %s up to %#x)", at, perms, hi)
		}
	}
}

// checkReservation: the memory's accessible size is read-write, the rest of
// its 8 GiB reservation PROT_NONE, all private anonymous memory.
func checkReservation(t *testing.T, i *Instance) {
	t.Helper()
	mem := i.Memory()
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	ms := readMaps(t)
	checkCovered(t, ms, base, base+uintptr(len(mem)), "rw-p")
	checkCovered(t, ms, base+uintptr(len(mem)), base+8<<30, "---p")
}

var faultSink byte

func guardHost() map[string]func([]uint64) (uint64, error) {
	return map[string]func([]uint64) (uint64, error){"host": echo}
}

// wantGuardTraps checks that n faults were turned into traps since before.
func wantGuardTraps(t *testing.T, before uint64, n int) {
	t.Helper()
	if got := guardTraps() - before; got != uint64(n) {
		t.Fatalf("%d faults on guard pages turned into traps, want %d", got, n)
	}
}

// Out-of-bounds accesses of a memory32 are faults on its guard pages, turned
// into OOB traps: past the end, at 0xffffffff, by a static offset that takes
// a small address past 4 GiB (no wrap-around to the bottom of memory), at
// the farthest any access can reach; bulk operations keep their explicit
// check. After memory.grow (by wasm code and by the host) the new pages are
// readable and writable and the page right after the end traps. The
// reservation is 8 GiB of private anonymous memory, PROT_NONE past the
// accessible size, registered while the instance lives.
func TestGuardPages(t *testing.T) {
	m := module(t, "guard", nil)
	if m.Memory64() {
		t.Fatal("guard is memory32")
	}
	regs := guardCount()
	i := instantiate(t, m, guardHost())
	if guardCount() != regs+1 {
		t.Fatalf("%d reservations registered, want %d", guardCount(), regs+1)
	}
	checkReservation(t, i)
	base := unsafe.SliceData(i.Memory())

	traps := guardTraps()
	n := 0
	oob := func(name string, args ...uint64) {
		t.Helper()
		_, err := i.Call(name, args...)
		wantTrap(t, err, OOB)
		n++
	}
	call(t, i, "store", 0, 0x11223344)
	call(t, i, "store", 65532, 0x55667788)
	if r := call(t, i, "load", 65532); r != 0x55667788 {
		t.Fatalf("%#x", r)
	}
	oob("load", 65533)
	oob("load", 65536)
	oob("load8", 65536)
	oob("load", 1<<31)
	oob("load", 0xffffffff)
	oob("store", 65533, 1)
	oob("store", 0xfffffffc, 1)
	// offset 0xfffffff0: 0 + it is just below 4 GiB, 16 + it is 4 GiB
	// exactly (a wrapped sum would be 0), 0xffffffff + it near 8 GiB.
	oob("load_big_off", 0)
	oob("load_big_off", 16)
	oob("load_big_off", 0xffffffff)
	oob("store_big_off", 16, 0xdead)
	oob("store_big_off", 20, 0xdead)
	oob("load64_max", 0xffffffff)
	oob("store64_max", 0xffffffff, 1)
	oob("store64_max", 0, 1)
	wantGuardTraps(t, traps, n)
	if r := call(t, i, "load", 0); r != 0x11223344 {
		t.Fatalf("address 0 holds %#x after the stores past 4 GiB: wrapped around", r)
	}
	if r := call(t, i, "load", 4); r != 0 {
		t.Fatalf("address 4 holds %#x after the stores past 4 GiB: wrapped around", r)
	}
	// memory.fill checks explicitly (no fault).
	_, err := i.Call("fill", 65530, 7, 10)
	wantTrap(t, err, OOB)
	wantGuardTraps(t, traps, n)
	if mem := i.Memory(); mem[65530] != 0 {
		t.Fatal("fill wrote before it trapped")
	}

	// Growth by wasm code: 1 -> 2 pages.
	if r := call(t, i, "grow", 1); r != 1 {
		t.Fatal(r)
	}
	if mem := i.Memory(); len(mem) != 2<<16 || unsafe.SliceData(mem) != base {
		t.Fatal("memory after grow")
	}
	checkReservation(t, i)
	for _, a := range []uint64{65533, 65536, 2<<16 - 4} {
		call(t, i, "store", a, a^0xa5a5a5a5)
		if r := call(t, i, "load", a); r != a^0xa5a5a5a5 {
			t.Fatalf("grown page at %#x: %#x", a, r)
		}
	}
	if mem := i.Memory(); mem[2<<16-1] != byte((2<<16-4^0xa5a5a5a5)>>24) {
		t.Fatal("the store at the new end does not show in Memory()")
	}
	oob("load", 2<<16-3)
	oob("load8", 2<<16)
	oob("store", 2<<16, 1)
	oob("load", 3<<16-4)

	// Growth by the host: 2 -> 4 pages.
	if old := i.Grow(2); old != 2 {
		t.Fatal(old)
	}
	checkReservation(t, i)
	i.Memory()[4<<16-1] = 0x99
	if r := call(t, i, "load8", 4<<16-1); r != 0x99 {
		t.Fatal(r)
	}
	call(t, i, "store", 3<<16, 5)
	oob("load8", 4<<16)
	oob("load", 4<<16+100)

	// To the maximum (8 pages), and no further.
	if r := call(t, i, "grow", 4); r != 4 {
		t.Fatal(r)
	}
	if r := call(t, i, "grow", 1); int32(r) != -1 {
		t.Fatal(r)
	}
	call(t, i, "store", 8<<16-4, 6)
	oob("load8", 8<<16)
	checkReservation(t, i)
	if r := call(t, i, "size"); r != 8 {
		t.Fatal(r)
	}
	if unsafe.SliceData(i.Memory()) != base {
		t.Fatal("the base moved")
	}
	wantGuardTraps(t, traps, n)

	// Freed: unregistered.
	i.Close()
	if guardCount() != regs {
		t.Fatalf("%d reservations registered after Close, want %d", guardCount(), regs)
	}
}

// A guard-page trap goes to the innermost jump target: a nested Call's (the
// outer one goes on), an invoke_*'s (passed on: not a longjmp), or the Call
// around a host import's return.
func TestGuardPagesNested(t *testing.T) {
	m := module(t, "guard", nil)
	var i *Instance
	traps := guardTraps()
	funcs := map[string]func([]uint64) (uint64, error){
		"host": func(a []uint64) (uint64, error) {
			if a[0] == 1 {
				_, err := i.Call("load_big_off", 16)
				wantTrap(t, err, OOB)
				return 8, nil
			}
			return a[0], nil
		},
	}
	i = instantiate(t, m, funcs)
	call(t, i, "store", 8, 0x1234)
	if r := call(t, i, "host_then_load", 1); r != 0x1234 {
		t.Fatalf("%#x", r)
	}
	_, err := i.Call("host_then_load", 1<<20)
	wantTrap(t, err, OOB)
	wantGuardTraps(t, traps, 2)

	// In invoke_* (emscripten's setjmp): the trap is passed on to the Call.
	em := module(t, "em", func(s string) string {
		return strings.Replace(s, "(func $trapper (param i32 i32) unreachable)",
			"(func $trapper (param i32 i32) (i32.store (i32.const 65536) (local.get 1)))", 1)
	})
	var e *Instance
	e = instantiate(t, em, emHost(t, em, &e))
	_, err = e.Call("run", 2, 0)
	wantTrap(t, err, OOB)
	wantGuardTraps(t, traps, 3)
	if r := call(t, e, "run", 1, 1); r != 1142 {
		t.Fatalf("longjmp after the trap: %d", r)
	}
	_, err = e.Call("run", 2, 0)
	wantTrap(t, err, OOB)
	if r := call(t, e, "run", 1, 0); r != 42 {
		t.Fatalf("no longjmp after the trap: %d", r)
	}
}

// A guard-page trap in one instance does not disturb others running at the
// same time: two goroutines trap over and over while two others run a loop
// over memory and check its result every time, and the memory each trapping
// instance wrote in bounds.
func TestGuardPagesConcurrent(t *testing.T) {
	m := module(t, "guard", nil)
	traps := guardTraps()
	var trapped atomic.Int64
	var busyCalls atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i, err := m.Instantiate(&funcHost{m: m, funcs: guardHost()})
			if err != nil {
				errs <- err
				return
			}
			defer i.Close()
			if g < 2 {
				// Busy: 4096 words written and summed 20 times per Call.
				seed := uint64(g*7 + 3)
				want := uint32(seed * 4096 * 4095 / 2)
				for {
					select {
					case <-stop:
						return
					default:
					}
					r, err := i.Call("churn", 4096, seed, 20)
					if err != nil || uint32(r) != want {
						errs <- fmt.Errorf("churn %d: %#x %v, want %#x", g, r, err, want)
						return
					}
					busyCalls.Add(1)
				}
			}
			// Trapping: every kind of out-of-bounds access, and a store and
			// a load in bounds between them.
			for n := range 1000 {
				v := uint64(g<<20 | n)
				if _, err := i.Call("store", 64, v); err != nil {
					errs <- err
					return
				}
				for _, c := range []struct {
					name string
					args []uint64
				}{{"load", []uint64{65536}}, {"store_big_off", []uint64{16, 1}}, {"load64_max", []uint64{uint64(n) << 20}}} {
					if _, err := i.Call(c.name, c.args...); err == nil {
						errs <- fmt.Errorf("%s: no trap", c.name)
						return
					} else if tr := (*Trap)(nil); !errors.As(err, &tr) || tr.Code != OOB {
						errs <- fmt.Errorf("%s: %v", c.name, err)
						return
					}
					trapped.Add(1)
				}
				if r, err := i.Call("load", 64); err != nil || r != v&0xffffffff {
					errs <- fmt.Errorf("load: %#x %v, want %#x", r, err, v)
					return
				}
			}
		}()
	}
	// Stop the busy ones once the trapping ones are done.
	done := make(chan struct{})
	go func() {
		for trapped.Load() < 2*1000*3 {
			select {
			case <-time.After(time.Millisecond):
			case <-done:
				return
			}
		}
		close(stop)
	}()
	wg.Wait()
	close(done)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	wantGuardTraps(t, traps, int(trapped.Load()))
	if busyCalls.Load() == 0 {
		t.Fatal("the busy instances did not run")
	}
	t.Logf("%d guard-page traps while the busy instances ran %d loops", trapped.Load(), busyCalls.Load())
}

// The fault handler chains everything that is not a guard-page hit in wasm
// code to the handler before it: wasmtime's (installed first, as in the
// loader), which chains to Go's. After AOT instances trapped on guard pages
// (this test's and the earlier tests'), on the very thread that trapped and
// inside a host import of an AOT Call: a Go nil dereference is still a
// recoverable runtime error, wasmtime's out-of-bounds loads are still
// wasmtime traps, and the deadline signal still arrives.
func TestFaultChaining(t *testing.T) {
	m := module(t, "guard", nil)
	if wt.before != nil {
		t.Fatalf("wasmtime before the AOT tier: %v", wt.before)
	}
	ours, prevSEGV, prevBUS, curSEGV, curBUS := faultHandlers()
	if curSEGV != ours || curBUS != ours {
		t.Fatalf("installed: SIGSEGV %#x, SIGBUS %#x; the tier's handler is %#x", curSEGV, curBUS, ours)
	}
	// wasmtime handles SIGSEGV on Linux x86-64 (SIGBUS only on some other
	// platforms).
	if wt.wtSEGV == wt.goSEGV {
		t.Fatalf("wasmtime did not install its SIGSEGV handler (Go's is %#x)", wt.goSEGV)
	}
	if prevSEGV != wt.wtSEGV || prevBUS != wt.wtBUS {
		t.Fatalf("the tier chains to SIGSEGV %#x, SIGBUS %#x; installed before it: %#x, %#x",
			prevSEGV, prevBUS, wt.wtSEGV, wt.wtBUS)
	}
	t.Logf("SIGSEGV: the tier %#x -> wasmtime %#x -> Go %#x; SIGBUS: the tier -> %#x (Go's: %#x)",
		ours, prevSEGV, wt.goSEGV, prevBUS, wt.goBUS)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	nilDeref := func(where string) {
		t.Helper()
		defer func() {
			r := recover()
			re, ok := r.(runtime.Error)
			if !ok || !strings.Contains(re.Error(), "nil pointer dereference") {
				t.Fatalf("%s: recovered %v (%T), want a nil pointer dereference", where, r, r)
			}
		}()
		var p *int
		*p = 1
	}

	traps := guardTraps()
	i := instantiate(t, m, guardHost())
	for range 5 {
		_, err := i.Call("load_big_off", 16)
		wantTrap(t, err, OOB)
	}
	wantGuardTraps(t, traps, 5)
	nilDeref("on the thread that trapped")
	if err := wasmtimeOOB(); err != nil {
		t.Fatalf("wasmtime on the thread that trapped: %v", err)
	}

	// Inside a host import of an AOT Call (a jump target is active, but no
	// wasm code runs).
	var inHost []error
	funcs := map[string]func([]uint64) (uint64, error){
		"host": func(a []uint64) (uint64, error) {
			switch a[0] {
			case 1:
				inHost = append(inHost, wasmtimeOOB())
			case 2:
				var p *int
				*p = 1
			}
			return a[0], nil
		},
	}
	j := instantiate(t, m, funcs)
	if _, err := j.Call("host_then_load", 1); err != nil {
		t.Fatal(err)
	}
	if len(inHost) != 1 || inHost[0] != nil {
		t.Fatalf("wasmtime in a host import: %v", inHost)
	}
	func() {
		defer func() {
			r := recover()
			re, ok := r.(runtime.Error)
			if !ok || !strings.Contains(re.Error(), "nil pointer dereference") {
				t.Fatalf("a nil dereference in a host import: recovered %v (%T)", r, r)
			}
		}()
		j.Call("host_then_load", 2)
	}()
	_, err := j.Call("host_then_load", 1<<30) // the host returns the address
	wantTrap(t, err, OOB)
	wantGuardTraps(t, traps, 6)

	// A fault inside a reservation that is not in wasm code (Go reading
	// past Memory(), in a host import too) is not the tier's: with
	// SetPanicOnFault it is a Go panic at that address.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	goFault := func(where string, mem []byte) {
		t.Helper()
		p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(mem)), len(mem)+100)
		past := uintptr(p)
		defer func() {
			r := recover()
			af, ok := r.(interface{ Addr() uintptr })
			if !ok || af.Addr() != past {
				t.Fatalf("%s: recovered %v (%T), want a fault at %#x", where, r, r, past)
			}
		}()
		faultSink = *(*byte)(p)
	}
	goFault("in Go", j.Memory())
	funcs["host"] = func(a []uint64) (uint64, error) {
		goFault("in a host import", j.Memory())
		return a[0], nil
	}
	if r, err := j.Call("host_then_load", 8); err != nil || r != 0 {
		t.Fatalf("%v %v", r, err)
	}
	wantGuardTraps(t, traps, 6)

	// The deadline signal still arrives on this thread.
	b := module(t, "basic", nil)
	k := instantiate(t, b, basicHost())
	start := time.Now()
	k.SetDeadline(start.Add(20 * time.Millisecond))
	if _, err := k.Call("loop"); !errors.Is(err, ErrTimeout) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("loop under a 20 ms deadline: %v after %v", err, time.Since(start))
	}

	// And on other threads.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r == nil {
					t.Error("no panic")
				}
			}()
			var p *[1 << 10]int
			p[100] = 1
		}()
	}
	wg.Wait()
	if err := wasmtimeOOB(); err != nil {
		t.Fatalf("wasmtime after the AOT traps: %v", err)
	}
	nilDeref("at the end")
}
