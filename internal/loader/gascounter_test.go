package loader

import (
	"context"
	"fmt"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/aocu/aocu/internal/metering"
)

// premeteredModule is a module of the emscripten2 format (no fixture needed)
// that imports metering.usegas(kind) itself, as modules metered before
// publication do; its handle() calls usegas once per value of calls, then
// returns an Output. With kind "" it imports a no-op instead (a module to
// meter).
func premeteredModule(t *testing.T, kind string, calls []int64) []byte {
	t.Helper()
	f := FormatEmscripten2
	ex := func(c string) string { return legacyExportName(f, c) }
	body := ""
	for _, n := range calls {
		body += fmt.Sprintf("(call $gas (%s.const %d))\n", kind, n)
	}
	imp := `(import "env" "_dlinit" (func))`
	if kind != "" {
		imp = fmt.Sprintf(`(import "metering" "usegas" (func $gas (param %s)))`, kind)
	}
	wat := fmt.Sprintf(`(module
  %[1]s
  (memory (export %[2]q) 2)
  (table (export %[3]q) 1 funcref)
  (global $sp (mut i32) (i32.const 65536))
  (data (i32.const 4096) "{\"ok\":true,\"response\":{\"Output\":\"hi\"}}\00")
  (func (export %[4]q) (result i32) (global.get $sp))
  (func (export %[5]q) (param i32) (global.set $sp (local.get 0)))
  (func (export %[6]q) (param i32) (result i32)
    (global.set $sp (i32.and (i32.sub (global.get $sp) (local.get 0)) (i32.const -16)))
    (global.get $sp))
  (func (export %[7]q))
  (func (export %[8]q) (param i32 i32) (result i32) (i32.const 0))
  (func (export %[9]q) (param i32 i32) (result i32)
    %[10]s
    (i32.const 4096))
  %[11]s)`, imp, ex("memory"), ex("__indirect_function_table"), ex("emscripten_stack_get_current"),
		ex("_emscripten_stack_restore"), ex("_emscripten_stack_alloc"), ex("__wasm_call_ctors"), ex("main"), ex("handle"),
		body, legacyOptionalExports(f))
	wasm, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}

// TestWasmGasCounter: a pre-metered module's usegas is the wasm counter (no
// host call per metered block), and it counts exactly as the glue's usegas
// does in JavaScript (metering.Gas: float64 sums of the signed value, the
// amount that crosses the limit counted, "out of gas!").
func TestWasmGasCounter(t *testing.T) {
	cases := []struct {
		name    string
		kind    string
		calls   []int64
		limit   float64
		outOfGs bool
	}{
		{"i32 signed", "i32", []int64{1000, -3, 2147483647, -2147483648, 91, 0, 12345}, 0, false},
		{"i64 rounds like Number(BigInt)", "i64", []int64{1<<53 + 1, -1, 1<<53 + 3, 7}, 1e17, false},
		{"i32 out of gas", "i32", []int64{600, 600, 5}, 1000, true},
		{"i64 out of gas at the default limit", "i64", []int64{9e15, 1}, 0, true},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, _, err := engine(t).Compile(ctx, premeteredModule(t, c.kind, c.calls), FormatEmscripten2)
			if err != nil {
				t.Fatal(err)
			}
			if !m.wasmGasCounter(m.imports[0]) {
				t.Fatalf("usegas of a pre-metered module is not the wasm counter")
			}
			want := metering.NewGas(c.limit)
			var wantErr error
			for _, n := range c.calls {
				if wantErr = want.Use(n); wantErr != nil {
					break
				}
			}
			p, err := m.NewProcess(ctx, ProcessOptions{GasLimit: c.limit})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for i := 0; i < 2; i++ { // the counter restarts at 0 for every call
				r, err := p.Handle(ctx, []byte(`{}`), []byte(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				if c.outOfGs {
					if wantErr == nil || !r.Rejected || string(r.Error) != `"out of gas!"` {
						t.Fatalf("call %d: %+v, want out of gas (reference: %v)", i, r, wantErr)
					}
					continue
				}
				if wantErr != nil || r.Rejected || string(r.Output) != `"hi"` || r.GasUsed != want.Used {
					t.Fatalf("call %d: GasUsed %v (%+v), want %v as metering.Gas counts", i, r.GasUsed, r, want.Used)
				}
			}
		})
	}
}

// TestWasmGasCounterNotForInlineMetering: a module metered at load with
// MeterInline counts its gas itself; its usegas stays the host function.
func TestWasmGasCounterNotForInlineMetering(t *testing.T) {
	wasm, err := metering.MeterInline(premeteredModule(t, "", nil), "i32")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := engine(t).Compile(context.Background(), wasm, FormatEmscripten2)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range m.imports {
		if d.canonical == "usegas" {
			found = true
			if m.wasmGasCounter(d) {
				t.Fatalf("inline-metered module: %s.%s got the wasm counter", d.module, d.name)
			}
		}
	}
	if !found {
		t.Fatal("the inline-metered module does not import metering.usegas")
	}
}
