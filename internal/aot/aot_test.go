package aot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// The test modules are compiled once per test binary into a temporary cache
// directory (testTC); a missing wasm2c/wat2wasm skips the tests, or fails
// them when CI=true.

var (
	testRoot  string
	testCache string
	testTC    *Toolchain
	toolsErr  error
	testLog   logCounter
	cacheRuns atomic.Int64
	modsMu    sync.Mutex
	mods      = map[string]*Module{}
)

type logCounter struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCounter) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logCounter) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	// wasmtime's engine and its first trap come before anything of the AOT
	// tier, as in the loader (guard_test.go).
	setupWasmtime()
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			testRoot = d
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	w2c, err := FindWasm2c(testRoot)
	if err == nil {
		if _, err = wat2wasmCmd(); err == nil {
			_, err = exec.LookPath("cc")
		}
	}
	toolsErr = err
	dir, err := os.MkdirTemp("", "aocu-aot-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	testCache = dir
	testTC = &Toolchain{Wasm2c: w2c, CacheDir: dir, Logf: testLog.logf}
	return m.Run()
}

func wat2wasmCmd() ([]string, error) {
	js := filepath.Join(testRoot, ".fixtures", "wabt", "node_modules", "wabt", "bin", "wat2wasm")
	if _, err := os.Stat(js); err == nil {
		return []string{"node", js}, nil
	}
	if p, err := exec.LookPath("wat2wasm"); err == nil {
		return []string{p}, nil
	}
	return nil, errors.New("no wat2wasm: run scripts/fixtures.sh (npm wabt@1.0.39 in .fixtures/wabt)")
}

func needTools(t testing.TB) {
	t.Helper()
	if toolsErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the AOT tier's tools are missing: %v", toolsErr)
		}
		t.Skipf("the AOT tier's tools are missing: %v", toolsErr)
	}
}

// wat assembles testdata/name.wat (edited by edit, if not nil).
func wat(t testing.TB, name string, edit func(string) string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name+".wat"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	if edit != nil {
		s = edit(s)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "m.wat"), filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(in, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	argv, _ := wat2wasmCmd()
	cmd := exec.Command(argv[0], append(argv[1:], "--enable-memory64", in, "-o", out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v: %s", name, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// module compiles a test module once per test binary.
func module(t testing.TB, name string, edit func(string) string) *Module {
	t.Helper()
	needTools(t)
	key := name
	if edit != nil {
		// One module per edit: the key is the edited source's hash.
		src, err := os.ReadFile(filepath.Join("testdata", name+".wat"))
		if err != nil {
			t.Fatal(err)
		}
		key += fmt.Sprintf("+%x", sha256.Sum256([]byte(edit(string(src)))))[:13]
	}
	modsMu.Lock()
	defer modsMu.Unlock()
	if m := mods[key]; m != nil {
		return m
	}
	start := time.Now()
	m, err := testTC.Compile(context.Background(), wat(t, name, edit))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compiled %s in %v", key, time.Since(start))
	mods[key] = m
	return m
}

// funcHost dispatches imports by name.
type funcHost struct {
	m     *Module
	funcs map[string]func(args []uint64) (uint64, error)
}

func (h *funcHost) CallImport(idx int, args []uint64) (uint64, error) {
	im := h.m.Imports()[idx]
	f := h.funcs[im.Name]
	if f == nil {
		return 0, fmt.Errorf("unexpected import %s.%s", im.Module, im.Name)
	}
	return f(args)
}

func instantiate(t testing.TB, m *Module, funcs map[string]func([]uint64) (uint64, error)) *Instance {
	t.Helper()
	inst, err := m.Instantiate(&funcHost{m: m, funcs: funcs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inst.Close)
	return inst
}

func call(t testing.TB, i *Instance, name string, args ...uint64) uint64 {
	t.Helper()
	r, err := i.Call(name, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func wantTrap(t *testing.T, err error, code TrapCode) {
	t.Helper()
	var tr *Trap
	if !errors.As(err, &tr) || tr.Code != code {
		t.Fatalf("got %v, want a trap %v", err, code)
	}
}

func echo(args []uint64) (uint64, error) { return args[0], nil }

func basicHost() map[string]func([]uint64) (uint64, error) {
	return map[string]func([]uint64) (uint64, error){"i32": echo, "i64": echo, "f32": echo, "f64": echo}
}

// Imports and exports of every kind: values go through the host as raw
// bits, NaN payloads included.
// TestGlobals: an exported mutable global is read and written through its
// GlobalGet/GlobalSet exports (what the loader's gas counters use), and wasm
// code sees the value set.
func TestGlobals(t *testing.T) {
	m := module(t, "basic", nil)
	i := instantiate(t, m, basicHost())
	if r := call(t, i, GlobalGet+"g"); r != 7 {
		t.Fatalf("g = %d", r)
	}
	if r := call(t, i, "bump_g"); r != 8 {
		t.Fatalf("bump_g: %d", r)
	}
	call(t, i, GlobalSet+"g", 1<<62)
	if r := call(t, i, "bump_g"); r != 1<<62+1 {
		t.Fatalf("bump_g after set: %d", r)
	}
	if r := call(t, i, GlobalGet+"h"); r != math.Float64bits(0.5) {
		t.Fatalf("h = %#x", r)
	}
	call(t, i, GlobalSet+"h", 0x7ff80000deadbeef)
	if r := call(t, i, GlobalGet+"h"); r != 0x7ff80000deadbeef {
		t.Fatalf("h's NaN payload came back %#x", r)
	}
	names := map[string]bool{}
	for _, e := range m.Exports() {
		names[e.Name] = true
	}
	if !names[GlobalGet+"g"] || !names[GlobalSet+"g"] {
		t.Fatalf("exports: %v", names)
	}
	// an immutable global reads the same way (wasm2c does not tell them apart)
	if r := call(t, i, GlobalGet+"k"); r != 3 {
		t.Fatalf("k = %d", r)
	}
}

func TestImportKinds(t *testing.T) {
	m := module(t, "basic", nil)
	if m.Memory64() {
		t.Fatal("basic is memory32")
	}
	if got := m.Imports()[4]; got.Name != "mix" || fmt.Sprint(got.Type) != "[i32 i64 f32 f64] -> [f64]" {
		t.Fatalf("import 4: %+v", got)
	}
	if got := m.Imports()[7]; got.Module != "wasi_snapshot_preview1" || got.Name != "sleep" {
		t.Fatalf("import 7: %+v", got)
	}
	var seen []uint64
	funcs := basicHost()
	funcs["mix"] = func(a []uint64) (uint64, error) {
		seen = append(seen[:0], a...)
		return math.Float64bits(-2.5), nil
	}
	i := instantiate(t, m, funcs)
	if r := call(t, i, "call_i32", 0xfffffffe); r != 0xfffffffe {
		t.Fatalf("i32: %#x", r)
	}
	if r := call(t, i, "call_i64", 0x8000000000000001); r != 0x8000000000000001 {
		t.Fatalf("i64: %#x", r)
	}
	for _, bits := range []uint64{uint64(math.Float32bits(1.5)), 0x7fc12345, 0xffc00001, 0x7f800001} {
		if r := call(t, i, "call_f32", bits); r != bits {
			t.Fatalf("f32 %#x came back %#x", bits, r)
		}
	}
	for _, bits := range []uint64{math.Float64bits(-0.0), 0x7ff80000deadbeef, 0xfff0000000000001} {
		if r := call(t, i, "call_f64", bits); r != bits {
			t.Fatalf("f64 %#x came back %#x", bits, r)
		}
	}
	r := call(t, i, "call_mix", 0xffffffff, 1<<40, uint64(math.Float32bits(0.25)), math.Float64bits(1e300))
	if math.Float64frombits(r) != -2.5 {
		t.Fatalf("mix result %v", math.Float64frombits(r))
	}
	want := []uint64{0xffffffff, 1 << 40, uint64(math.Float32bits(0.25)), math.Float64bits(1e300)}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("mix args %x, want %x", seen, want)
	}
}

type hostErr struct{ n int }

func (e *hostErr) Error() string { return fmt.Sprintf("host error %d", e.n) }

// A host error traps the wasm code and comes back from Call as is; the
// instance stays usable.
func TestHostError(t *testing.T) {
	m := module(t, "basic", nil)
	want := &hostErr{42}
	funcs := basicHost()
	funcs["fail"] = func([]uint64) (uint64, error) { return 0, fmt.Errorf("wrapped: %w", want) }
	i := instantiate(t, m, funcs)
	_, err := i.Call("call_fail")
	var he *hostErr
	if !errors.As(err, &he) || he != want {
		t.Fatalf("got %v", err)
	}
	if r := call(t, i, "add1", 1); r != 2 {
		t.Fatal(r)
	}
	// A panic in the host is re-raised by Call.
	funcs["fail"] = func([]uint64) (uint64, error) { panic("host panic") }
	func() {
		defer func() {
			if p := recover(); p != "host panic" {
				t.Fatalf("recovered %v", p)
			}
		}()
		i.Call("call_fail")
	}()
	if r := call(t, i, "add1", 5); r != 6 {
		t.Fatal(r)
	}
}

// The host calls back into the instance (and into another one) from an
// import; errors of the inner Call go to the host.
func TestNestedCall(t *testing.T) {
	m := module(t, "basic", nil)
	var i, other *Instance
	funcs := basicHost()
	funcs["nested"] = func(a []uint64) (uint64, error) {
		switch a[0] {
		case 0:
			return 100, nil
		case 1: // a trap in a nested Call does not unwind the outer one
			_, err := i.Call("div", 1, 0)
			wantTrap(t, err, DivByZero)
			return 7, nil
		case 2:
			return other.Call("add1", 41)
		case 3:
			return 0, errors.New("nested error")
		}
		// recursion through the host: nested(n) = nested(n-1) + 1
		return i.Call("call_nested", a[0]-1)
	}
	i = instantiate(t, m, funcs)
	other = instantiate(t, m, funcs)
	if r := call(t, i, "call_nested", 1); r != 8 {
		t.Fatal(r)
	}
	if r := call(t, i, "call_nested", 2); r != 43 {
		t.Fatal(r)
	}
	if _, err := i.Call("call_nested", 5); err == nil || err.Error() != "nested error" {
		t.Fatalf("got %v", err)
	}
	if r := call(t, i, "call_nested", 0); r != 101 {
		t.Fatal(r)
	}
}

func TestTraps(t *testing.T) {
	m := module(t, "basic", nil)
	i := instantiate(t, m, basicHost())
	_, err := i.Call("unreachable")
	wantTrap(t, err, Unreachable)
	_, err = i.Call("div", 1, 0)
	wantTrap(t, err, DivByZero)
	_, err = i.Call("div", 0x80000000, 0xffffffff)
	wantTrap(t, err, IntOverflow)
	if r := call(t, i, "load", 65532); r != 0 {
		t.Fatal(r)
	}
	_, err = i.Call("load", 65533)
	wantTrap(t, err, OOB)
	if err.Error() != "wasm trap: out of bounds memory access" {
		t.Fatal(err)
	}
	_, err = i.Call("load", 0xffffffff)
	wantTrap(t, err, OOB)
	if r := call(t, i, "ci", 1, 5); r != 6 {
		t.Fatal(r)
	}
	_, err = i.Call("ci", 0, 5) // null entry
	wantTrap(t, err, CallIndirect)
	_, err = i.Call("ci", 2, 5) // another type
	wantTrap(t, err, CallIndirect)
	_, err = i.Call("ci", 3, 5) // out of the table
	wantTrap(t, err, CallIndirect)
	if r := call(t, i, "add1", 1); r != 2 {
		t.Fatal(r)
	}
}

func TestMemory64(t *testing.T) {
	m := module(t, "mem64", nil)
	if !m.Memory64() {
		t.Fatal("mem64 is not memory64")
	}
	i := instantiate(t, m, nil)
	call(t, i, "store", 65532, 0xabcd)
	if r := call(t, i, "load", 65532); r != 0xabcd {
		t.Fatal(r)
	}
	_, err := i.Call("load", 65533)
	wantTrap(t, err, OOB)
	_, err = i.Call("load", 1<<40)
	wantTrap(t, err, OOB)
	_, err = i.Call("load_off", math.MaxUint64-10) // address + offset overflows
	wantTrap(t, err, OOB)
	_, err = i.Call("load_off", 0)
	wantTrap(t, err, OOB)
	// A store's offset too (wasm2c writes it without the u suffix): the
	// address wraps to 65522 unless the sum is checked.
	_, err = i.Call("store_off", math.MaxUint64-10, 0xdead)
	wantTrap(t, err, OOB)
	if r := call(t, i, "load", 65522); r != 0 {
		t.Fatalf("store_off wrapped around: %#x at 65522", r)
	}
	base := unsafe.SliceData(i.Memory())
	if r := call(t, i, "grow", 2); r != 1 {
		t.Fatal(r)
	}
	if len(i.Memory()) != 3<<16 || unsafe.SliceData(i.Memory()) != base {
		t.Fatal("memory after grow")
	}
	if r := call(t, i, "load", 65533); r != 0xab {
		t.Fatal(r)
	}
	if r := call(t, i, "grow", 100); r != math.MaxUint64 {
		t.Fatalf("grow past the maximum: %d", int64(r))
	}
}

// Growth by wasm code and by the host shows in Memory(); the base never
// moves.
func TestMemoryGrow(t *testing.T) {
	m := module(t, "basic", nil)
	i := instantiate(t, m, basicHost())
	mem := i.Memory()
	base := unsafe.SliceData(mem)
	if len(mem) != 65536 {
		t.Fatal(len(mem))
	}
	call(t, i, "store", 100, 0x01020304)
	if mem[100] != 4 || mem[103] != 1 {
		t.Fatal(mem[100:104])
	}
	if r := call(t, i, "grow", 3); r != 1 {
		t.Fatal(r)
	}
	if mem = i.Memory(); len(mem) != 4<<16 || unsafe.SliceData(mem) != base {
		t.Fatalf("len %d", len(mem))
	}
	mem[4<<16-1] = 9
	if r := call(t, i, "load", 4<<16-4); r != 9<<24 {
		t.Fatalf("%#x", r)
	}
	if old := i.Grow(1); old != 4 {
		t.Fatal(old)
	}
	if r := call(t, i, "size"); r != 5 {
		t.Fatal(r)
	}
	if old := i.Grow(1000); old != -1 {
		t.Fatal(old)
	}
	if r := call(t, i, "grow", 96); int32(r) != -1 {
		t.Fatal(r)
	}
	if len(i.Memory()) != 5<<16 || unsafe.SliceData(i.Memory()) != base {
		t.Fatal("memory after failed grows")
	}
}

func emHost(t *testing.T, m *Module, inst **Instance) map[string]func([]uint64) (uint64, error) {
	return map[string]func([]uint64) (uint64, error){
		"host": func(a []uint64) (uint64, error) {
			// A longjmp in a nested Call never reaches the outer invoke.
			_, err := (*inst).Call("throw_direct")
			if !errors.Is(err, ErrLongjmp) {
				t.Errorf("nested throw_direct: %v", err)
			}
			return 0, nil
		},
	}
}

// emscripten's setjmp/longjmp: invoke_vii through dynCall_vii, and through
// the table when the module does not export it.
func TestInvokeLongjmp(t *testing.T) {
	for _, variant := range []string{"dynCall", "table"} {
		t.Run(variant, func(t *testing.T) {
			var edit func(string) string
			if variant == "table" {
				edit = func(s string) string { return strings.Replace(s, `(export "dynCall_vii")`, "", 1) }
			}
			m := module(t, "em", edit)
			ims := m.Imports()
			if len(ims) != 3 || !ims[0].Builtin || !ims[1].Builtin || ims[2].Builtin || ims[2].Name != "host" {
				t.Fatalf("imports %+v", ims)
			}
			var i *Instance
			i = instantiate(t, m, emHost(t, m, &i))
			if r := call(t, i, "run", 1, 0); r != 42 {
				t.Fatalf("no longjmp: %d", r)
			}
			if r := call(t, i, "run", 1, 1); r != 1142 {
				t.Fatalf("longjmp: %d", r)
			}
			if r := call(t, i, "run", 4, 0); r != 142 { // sp untouched
				t.Fatalf("nested call: %d", r)
			}
			_, err := i.Call("run", 2, 0)
			wantTrap(t, err, Unreachable)
			_, err = i.Call("run", 3, 0)
			wantTrap(t, err, CallIndirect)
			_, err = i.Call("run", 0, 0)
			wantTrap(t, err, CallIndirect)
			_, err = i.Call("throw_direct")
			if !errors.Is(err, ErrLongjmp) {
				t.Fatalf("throw_direct: %v", err)
			}
			if r := call(t, i, "run", 1, 1); r != 1142 {
				t.Fatalf("longjmp after the traps: %d", r)
			}
		})
	}
}

func TestExhaustion(t *testing.T) {
	m := module(t, "basic", nil)
	i := instantiate(t, m, basicHost())
	i.SetDeadline(time.Now().Add(10 * time.Second)) // a safety net
	for range 3 {
		_, err := i.Call("rec", 0)
		wantTrap(t, err, Exhaustion)
	}
	// And from a nested Call, deep in a host import.
	funcs := basicHost()
	var j *Instance
	funcs["nested"] = func([]uint64) (uint64, error) { return j.Call("rec", 0) }
	j = instantiate(t, m, funcs)
	_, err := j.Call("call_nested", 0)
	wantTrap(t, err, Exhaustion)
	if r := call(t, j, "add1", 1); r != 2 {
		t.Fatal(r)
	}
}

func TestTimeout(t *testing.T) {
	m := module(t, "basic", nil)
	funcs := basicHost()
	funcs["sleep"] = func([]uint64) (uint64, error) { time.Sleep(150 * time.Millisecond); return 0, nil }
	i := instantiate(t, m, funcs)

	// Keep the collector busy meanwhile: 64 KiB of garbage every
	// millisecond and a forced collection every 64 ms.
	stop := make(chan struct{})
	var churned atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		var keep [][]byte
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			keep = append(keep, make([]byte, 64<<10))
			if len(keep) > 64 {
				keep = keep[:0]
				runtime.GC()
			}
			churned.Add(1)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	for range 3 {
		start := time.Now()
		i.SetDeadline(start.Add(50 * time.Millisecond))
		_, err := i.Call("loop")
		took := time.Since(start)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("loop: %v", err)
		}
		if took < 50*time.Millisecond || took > 250*time.Millisecond {
			t.Fatalf("loop under a 50 ms deadline came back after %v", took)
		}
		t.Logf("endless loop under a 50 ms deadline: back after %v", took)
	}
	// The instance (this test's) is discarded in real use; here it still runs.
	i.SetDeadline(time.Time{})
	if r := call(t, i, "add1", 1); r != 2 {
		t.Fatal(r)
	}

	// The deadline passes in a host import: the import finishes, then the
	// Call returns ErrTimeout.
	start := time.Now()
	i.SetDeadline(start.Add(30 * time.Millisecond))
	_, err := i.Call("sleep_then")
	if took := time.Since(start); !errors.Is(err, ErrTimeout) || took < 150*time.Millisecond {
		t.Fatalf("sleep_then: %v after %v", err, took)
	}

	// A nested Call times out; its caller sees ErrTimeout even though the
	// host swallowed the error.
	funcs["nested"] = func([]uint64) (uint64, error) {
		_, err := i.Call("loop")
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("nested loop: %v", err)
		}
		return 0, nil
	}
	i.SetDeadline(time.Now().Add(40 * time.Millisecond))
	if _, err := i.Call("call_nested", 0); !errors.Is(err, ErrTimeout) {
		t.Fatalf("call_nested: %v", err)
	}
	// A deadline in the past: at once.
	i.SetDeadline(time.Now().Add(-time.Second))
	if _, err := i.Call("add1", 1); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	i.SetDeadline(time.Time{})

	// Go still works: a nil-map write panics and is recovered, a nil
	// dereference too, and the collector ran.
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nil map") {
				t.Fatalf("recovered %v", r)
			}
		}()
		var mm map[string]int
		mm["x"] = 1
	}()
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nil pointer") {
				t.Fatalf("recovered %v", r)
			}
		}()
		var p *int
		*p = 1
	}()
	if churned.Load() == 0 {
		t.Fatal("the allocating goroutine did not run")
	}
	time.Sleep(20 * time.Millisecond) // a stray signal would show here
	if r := call(t, i, "add1", 2); r != 3 {
		t.Fatal(r)
	}
}

// Instances of one module on several goroutines at once, with traps and
// timeouts mixed in.
func TestConcurrentInstances(t *testing.T) {
	m := module(t, "basic", nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			calls := 0
			i, err := m.Instantiate(&funcHost{m: m, funcs: map[string]func([]uint64) (uint64, error){
				"i32": func(a []uint64) (uint64, error) { calls++; return a[0] * 2, nil },
			}})
			if err != nil {
				errs <- err
				return
			}
			defer i.Close()
			for n := range 200 {
				v := uint64(g*1000 + n)
				if r, err := i.Call("host_loop", 3); err != nil || r != 12 {
					errs <- fmt.Errorf("host_loop: %d %v", r, err)
					return
				}
				if _, err := i.Call("store", 200, v); err != nil {
					errs <- err
					return
				}
				if n%50 == 0 {
					if _, err := i.Call("div", 1, 0); err == nil {
						errs <- errors.New("no trap")
						return
					}
					i.SetDeadline(time.Now().Add(5 * time.Millisecond))
					if _, err := i.Call("loop"); !errors.Is(err, ErrTimeout) {
						errs <- fmt.Errorf("loop: %v", err)
						return
					}
					i.SetDeadline(time.Time{})
				}
				if r, err := i.Call("load", 200); err != nil || r != v {
					errs <- fmt.Errorf("load: %d %v", r, err)
					return
				}
			}
			if calls != 600 {
				errs <- fmt.Errorf("%d host calls", calls)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A second Compile of the same module, by another Toolchain on the same
// cache directory, loads the shared object without running wasm2c or cc.
func TestCacheHit(t *testing.T) {
	module(t, "mem64", nil)
	wasm := wat(t, "mem64", nil)
	var log logCounter
	tc := &Toolchain{Wasm2c: testTC.Wasm2c, CacheDir: testCache, Logf: log.logf}
	start := time.Now()
	m, err := tc.Compile(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	if log.count("cache hit") != 1 || log.count("translating") != 0 || log.count("compiling") != 0 {
		t.Fatalf("log: %q", log.lines)
	}
	t.Logf("cache hit in %v (two --version runs included)", time.Since(start))
	if !m.Memory64() {
		t.Fatal("memory64")
	}
	// A different module is not a hit.
	// (another maximum per run: -count=N shares the cache directory)
	maxPages := fmt.Sprintf("i64 1 %d", 9+cacheRuns.Add(1))
	wasm2 := wat(t, "mem64", func(s string) string { return strings.Replace(s, "i64 1 8", maxPages, 1) })
	if _, err := tc.Compile(context.Background(), wasm2); err != nil {
		t.Fatal(err)
	}
	if log.count("translating") != 1 {
		t.Fatalf("log: %q", log.lines)
	}
	entries, _ := os.ReadDir(testCache)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), "build-") {
			t.Fatalf("left behind: %s", e.Name())
		}
	}
}

// The real aos modules (wasm32 and wasm64): only with AOCU_AOT_SLOW=1 (cc
// takes 30-45 s on each).
func TestAosModule(t *testing.T) {
	if os.Getenv("AOCU_AOT_SLOW") != "1" {
		t.Skip("AOCU_AOT_SLOW=1 compiles the aos modules (30-45 s of cc each)")
	}
	needTools(t)
	for _, tc := range []struct {
		name  string
		mem64 bool
	}{{"aos2_0_4_32", false}, {"aos2_0_6", true}} {
		t.Run(tc.name, func(t *testing.T) {
			wasm, err := os.ReadFile(filepath.Join(testRoot, ".fixtures", "modules", tc.name+".wasm"))
			if err != nil {
				t.Skipf("run scripts/fixtures.sh: %v", err)
			}
			start := time.Now()
			m, err := testTC.Compile(context.Background(), wasm)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("compiled %s in %v", tc.name, time.Since(start))
			if m.Memory64() != tc.mem64 {
				t.Fatalf("Memory64() = %v", m.Memory64())
			}
			names := map[string]bool{}
			for _, e := range m.Exports() {
				names[e.Name] = true
			}
			for _, n := range []string{"handle", "malloc"} {
				if !names[n] {
					t.Errorf("no export %s in %v", n, m.Exports())
				}
			}
			var builtins []string
			for _, im := range m.Imports() {
				if im.Builtin {
					builtins = append(builtins, im.Name)
				}
			}
			t.Logf("%d imports (builtin: %v), %d exports", len(m.Imports()), builtins, len(m.Exports()))
			if len(m.Imports()) < 10 || len(builtins) == 0 {
				t.Errorf("imports: %+v", m.Imports())
			}
			i, err := m.Instantiate(zeroHost{})
			if err != nil {
				t.Fatal(err)
			}
			defer i.Close()
			if len(i.Memory()) == 0 {
				t.Fatal("no memory")
			}
		})
	}
}

type zeroHost struct{}

func (zeroHost) CallImport(int, []uint64) (uint64, error) { return 0, nil }

// BenchmarkHostCall: one wasm -> Go import call (host_loop calls the i32
// import b.N times in one Call).
func BenchmarkHostCall(b *testing.B) {
	m := module(b, "basic", nil)
	i := instantiate(b, m, map[string]func([]uint64) (uint64, error){"i32": echo})
	b.ReportAllocs()
	b.ResetTimer()
	if _, err := i.Call("host_loop", uint64(b.N)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCall: one Go -> wasm Call of a trivial export.
func BenchmarkCall(b *testing.B) {
	m := module(b, "basic", nil)
	i := instantiate(b, m, basicHost())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Call("add1", 1); err != nil {
			b.Fatal(err)
		}
	}
}
