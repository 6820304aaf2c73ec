package metering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

var meterTypes = []string{"i32", "i64"}

// TestMeterKnownOutput checks one small module against output worked out by hand, so the package has a
// reference point even without node.
func TestMeterKnownOutput(t *testing.T) {
	in, err := wasmtime.Wat2Wasm(`(module
  (import "env" "f" (func $f))
  (func (export "g") (result i32)
    (call $f)
    (i32.add (i32.const 1) (i32.const 2))
    (br_if 0 (i32.const 0))
    (drop)
    (call $h)
    (i32.const 9))
  (func $h))`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Meter(in, "i32")
	if err != nil {
		t.Fatal(err)
	}
	want := cat(header,
		sec(1, u(3), []byte{0x60, 0, 0}, []byte{0x60, 0, 1, 0x7f}, []byte{0x60, 1, 0x7f, 0}), // + (func (param i32))
		sec(2, u(2), str("env"), str("f"), []byte{0, 0}, str("metering"), str("usegas"), []byte{0, 2}),
		sec(3, u(2), u(1), u(0)),
		sec(7, u(1), str("g"), []byte{0}, u(2)), // was 1: shifted
		sec(10, u(2),
			// segment 1: call(90) const(1) const(1) add(45) const(1) br_if(90) = 228, +91 = 319
			body(0x00, 0x41, 0xbf, 0x02, 0x10, 0x01,
				0x10, 0x00, 0x41, 0x01, 0x41, 0x02, 0x6a, 0x41, 0x00, 0x0d, 0x00,
				// segment 2: drop(120) call(90) const(1) end(0) = 211, +91 = 302
				0x41, 0xae, 0x02, 0x10, 0x01,
				0x1a, 0x10, 0x03, 0x41, 0x09, 0x0b),
			// $h: a lone `end` costs 0: no metering call
			body(0x00, 0x0b)),
	)
	// wasmtime's wat2wasm also writes a name section: copied unchanged at the end.
	if !bytes.HasPrefix(out, want) {
		t.Fatalf("got  %x\nwant %x", out, want)
	}
	if rest := out[len(want):]; len(rest) == 0 || rest[0] != 0 || !bytes.HasSuffix(in, rest) {
		t.Fatalf("the trailing custom section was not copied: %x", rest)
	}
}

// TestRefusals checks (without node) that the modules the reference cannot meter are refused with the
// reference's exception.
func TestRefusals(t *testing.T) {
	cases := map[string]struct {
		kind ErrorKind
		ref  string
		op   string
	}{
		"simd":                   {KindUnsupportedOpcode, refSplit, "0xfd"},
		"bulk-memory":            {KindUnsupportedOpcode, refSplit, "0xfc"},
		"trunc-sat":              {KindUnsupportedOpcode, refSplit, "0xfc"},
		"ref-null":               {KindUnsupportedOpcode, refSplit, "0xd0"},
		"global-funcref":         {KindUnsupportedOpcode, refSplit, "0xd2"},
		"typed-select":           {KindUnsupportedOpcode, refSplit, "0x1c"},
		"tail-call":              {KindUnsupportedOpcode, refSplit, "0x12"},
		"already-metered":        {KindMeteringImport, refMetering, ""},
		"metering-memory-import": {KindMeteringImport, refMetering, ""},
	}
	for _, c := range watCases {
		want, ok := cases[c.name]
		if !ok {
			continue
		}
		delete(cases, c.name)
		_, err := Meter(buildWAT(t, c), "i64")
		var me *Error
		if !errors.As(err, &me) || me.Kind != want.kind || me.RefError != want.ref || !strings.Contains(err.Error(), want.op) {
			t.Errorf("%s: got %v, want kind %d %s", c.name, err, want.kind, want.op)
		}
		if !IsUnsupported(err) {
			t.Errorf("%s: IsUnsupported = false", c.name)
		}
	}
	if len(cases) != 0 {
		t.Errorf("cases not found: %v", cases)
	}
	bins := map[string]ErrorKind{
		"no-end": KindMalformed, "code-without-function": KindMalformed, "code-before-type": KindMalformed,
		"unknown-section": KindUnknownSection, "section-size-too-big": KindNumberTooLarge,
		"type-index-too-big": KindNumberTooLarge, "import-kind-4": KindUnknownImportKind,
		"export-index-2^53-1": KindNumberTooLarge, "elem-index-2^53-1": KindNumberTooLarge,
		"start-2^53-1": KindNumberTooLarge, "truncated-in-opcode": KindUnsupportedOpcode,
		"call-ge-1e21": KindLimit, "past-end-huge-count": KindLimit,
	}
	for _, c := range binCases() {
		want, ok := bins[c.name]
		if !ok {
			continue
		}
		_, err := Meter(c.wasm, "i32")
		var me *Error
		if !errors.As(err, &me) || me.Kind != want {
			t.Errorf("%s: got %v, want kind %d", c.name, err, want)
		}
	}
	if _, err := Meter(buildWAT(t, watCases[0]), "f64"); err == nil {
		t.Error("meterType f64 accepted")
	}
}

// TestMeterMatchesReference meters every test module with both meter types in Go and through the npm
// package, and requires identical bytes (or the same exception).
func TestMeterMatchesReference(t *testing.T) {
	rt := needRef(t)
	type input struct {
		name string
		wasm []byte
	}
	var inputs []input
	for _, c := range watCases {
		inputs = append(inputs, input{c.name, buildWAT(t, c)})
	}
	for _, c := range binCases() {
		inputs = append(inputs, input{c.name, c.wasm})
	}
	var ins [][]byte
	var types []string
	var names []string
	for _, in := range inputs {
		for _, mt := range meterTypes {
			var me *Error
			if _, err := Meter(in.wasm, mt); errors.As(err, &me) && me.Kind == KindLimit {
				t.Logf("%s/%s: not sent to the reference (%v)", in.name, mt, err)
				continue
			}
			ins = append(ins, in.wasm)
			types = append(types, mt)
			names = append(names, in.name+"/"+mt)
		}
	}
	refs := rt.meterBatch(t, ins, types)
	for i := range ins {
		got, err := Meter(ins[i], types[i])
		checkAgainstRef(t, names[i], got, err, refs[i])
	}
}

// TestMeterCLI uses the documented single-module form of meter.cjs once for success and once for an
// exception, and checks that the copy bundled into ao-loader behaves like the npm package.
func TestMeterCLI(t *testing.T) {
	rt := needRef(t)
	ok := buildWAT(t, watCases[3]) // calls
	bad := buildWAT(t, watCase{name: "simd", wat: `(module (func (drop (v128.const i32x4 1 2 3 4))))`})
	for _, c := range []struct {
		name string
		wasm []byte
	}{{"calls", ok}, {"simd", bad}} {
		ref := rt.meterOne(t, c.wasm, "i64")
		got, err := Meter(c.wasm, "i64")
		checkAgainstRef(t, c.name, got, err, ref)
	}

	// METER_IMPL=bundled: the esbuild copy inside @permaweb/ao-loader/dist/index.cjs.
	t.Setenv("METER_IMPL", "bundled")
	var ins [][]byte
	var types []string
	for _, c := range watCases {
		ins = append(ins, buildWAT(t, c))
		types = append(types, "i32")
	}
	refs := rt.meterBatch(t, ins, types)
	for i, c := range watCases {
		got, err := Meter(ins[i], "i32")
		checkAgainstRef(t, "bundled/"+c.name, got, err, refs[i])
	}
}

// TestWasmMeteringPackageInputs meters the JSON test inputs shipped with @permaweb/wasm-metering
// (test/in/json), converted to binaries with the toolkit's json2wasm.
func TestWasmMeteringPackageInputs(t *testing.T) {
	rt := needRef(t)
	dir := t.TempDir()
	script := `
const fs = require('fs'), path = require('path')
const [nm, outDir] = process.argv.slice(1)
const toolkit = require(path.join(nm, '@permaweb/wasm-json-toolkit'))
const inDir = path.join(nm, '@permaweb/wasm-metering/test/in/json')
const names = fs.readdirSync(inDir).filter(f => f.endsWith('.json')).sort()
for (const f of names) {
  const json = JSON.parse(fs.readFileSync(path.join(inDir, f), 'utf8'))
  fs.writeFileSync(path.join(outDir, f + '.wasm'), toolkit.json2wasm(json))
}
process.stdout.write(JSON.stringify(names))`
	out, err := exec.Command(rt.node, "-e", script, rt.nm, dir).Output()
	if err != nil {
		t.Fatalf("json2wasm: %v", err)
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil || len(names) == 0 {
		t.Fatalf("json2wasm output %q: %v", out, err)
	}
	var ins [][]byte
	var types []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		for _, mt := range meterTypes {
			ins = append(ins, b)
			types = append(types, mt)
		}
	}
	refs := rt.meterBatch(t, ins, types)
	for i := range ins {
		got, err := Meter(ins[i], types[i])
		checkAgainstRef(t, names[i/2]+"/"+types[i], got, err, refs[i])
	}
	t.Logf("%d package inputs compared", len(names))
}

// ------------------------------------------------------------------------------------------------------
// running metered modules

type callResult struct {
	Gas   float64 `json:"gas"`
	Total float64 `json:"total"`
	Ret   *string `json:"ret"`
	Err   bool    `json:"err"`
	OOG   bool    `json:"oog"`
	Msg   string  `json:"msg,omitempty"`
}

type runResult struct {
	StartGas float64      `json:"startGas"`
	InstErr  bool         `json:"instErr"`
	InstMsg  string       `json:"instMsg,omitempty"`
	Calls    []callResult `json:"calls"`
}

// runWasmtime instantiates a metered module in wasmtime with a metering.usegas host function built on Gas
// and calls the exports in order.
func runWasmtime(t *testing.T, wasm []byte, meterType string, limit float64, calls []call) runResult {
	t.Helper()
	cfg := wasmtime.NewConfig()
	cfg.SetWasmMemory64(true)
	engine := wasmtime.NewEngineWithConfig(cfg)
	store := wasmtime.NewStore(engine)
	mod, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		t.Fatalf("wasmtime compile: %v", err)
	}
	gas := NewGas(limit)
	use := func(n int64) *wasmtime.Trap {
		if err := gas.Use(n); err != nil {
			return wasmtime.NewTrap(err.Error())
		}
		return nil
	}
	linker := wasmtime.NewLinker(engine)
	var defs []error
	if meterType == "i32" {
		defs = append(defs, linker.FuncWrap(ImportModule, ImportField, func(n int32) *wasmtime.Trap { return use(int64(n)) }))
	} else {
		defs = append(defs, linker.FuncWrap(ImportModule, ImportField, func(n int64) *wasmtime.Trap { return use(n) }))
	}
	defs = append(defs,
		linker.FuncWrap("env", "ext_i32", func(x int32) int32 { return x*2 + 1 }),
		linker.FuncWrap("env", "ext_i64", func(x int64) int64 { return x + 7 }),
		linker.FuncWrap("env", "ext_void", func() {}))
	g, err := wasmtime.NewGlobal(store, wasmtime.NewGlobalType(wasmtime.NewValType(wasmtime.KindI32), false), wasmtime.ValI32(42))
	defs = append(defs, err, linker.Define(store, "env", "g", g))
	if err := errors.Join(defs...); err != nil {
		t.Fatal(err)
	}
	var res runResult
	inst, err := linker.Instantiate(store, mod)
	res.StartGas = gas.Used
	if err != nil {
		res.InstErr, res.InstMsg = true, err.Error()
		return res
	}
	for _, c := range calls {
		before := gas.Used
		var cr callResult
		f := inst.GetFunc(store, c.name)
		if f == nil {
			t.Fatalf("no export %q", c.name)
		}
		v, err := f.Call(store, c.args...)
		cr.Gas, cr.Total = gas.Used-before, gas.Used
		if err != nil {
			cr.Err, cr.OOG, cr.Msg = true, strings.Contains(err.Error(), "out of gas!"), err.Error()
		} else if v != nil {
			s := fmt.Sprint(v)
			cr.Ret = &s
		}
		res.Calls = append(res.Calls, cr)
	}
	return res
}

const nodeRunner = `
const fs = require('fs')
const jobs = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'))
;(async () => {
  const out = []
  for (const job of jobs) {
    const bytes = fs.readFileSync(job.wasm)
    let used = 0
    const limit = job.limit || 9e15
    const imports = {
      metering: { usegas: (n) => { used += Number(n); if (used > limit) throw Error('out of gas!') } },
      env: {
        ext_i32: (x) => (x * 2 + 1) | 0,
        ext_i64: (x) => x + 7n,
        ext_void: () => {},
        g: new WebAssembly.Global({ value: 'i32', mutable: false }, 42)
      }
    }
    const res = { startGas: 0, instErr: false, calls: [] }
    let instance
    try {
      instance = (await WebAssembly.instantiate(bytes, imports)).instance
    } catch (e) {
      res.instErr = true
      res.instMsg = String(e)
    }
    res.startGas = used
    if (instance) {
      for (const c of job.calls) {
        const before = used
        const r = { gas: 0, total: 0, ret: null, err: false, oog: false }
        try {
          const args = c.args.map(a => a.t === 'i64' ? BigInt(a.v) : Number(a.v))
          const v = instance.exports[c.name](...args)
          if (v !== undefined) r.ret = String(v)
        } catch (e) {
          r.err = true
          r.oog = e instanceof Error && e.message === 'out of gas!'
          r.msg = String(e)
        }
        r.gas = used - before
        r.total = used
        res.calls.push(r)
      }
    }
    out.push(res)
  }
  process.stdout.write(JSON.stringify(out))
})().catch(e => { console.error(e); process.exit(1) })
`

type nodeArg struct {
	T string `json:"t"`
	V string `json:"v"`
}

type nodeCall struct {
	Name string    `json:"name"`
	Args []nodeArg `json:"args"`
}

type nodeJob struct {
	Wasm  string     `json:"wasm"`
	Limit float64    `json:"limit"`
	Calls []nodeCall `json:"calls"`
}

func runNode(t *testing.T, rt *refTool, jobs []nodeJob) []runResult {
	t.Helper()
	dir := t.TempDir()
	jb, _ := json.Marshal(jobs)
	jobsFile := filepath.Join(dir, "run.json")
	if err := os.WriteFile(jobsFile, jb, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rt.node, "--experimental-wasm-memory64", "-e", nodeRunner, jobsFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node runner: %v\n%s", err, stderr.String())
	}
	var res []runResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(jobs) {
		t.Fatalf("node runner output: %v: %.300s", err, out)
	}
	return res
}

// TestGasMatchesReference runs the Go-metered modules in wasmtime and the npm-metered ones in node
// (V8), calling the same exports, and requires the same gas after instantiation (start function) and for
// every call, the same results, and the same traps / out-of-gas errors.
func TestGasMatchesReference(t *testing.T) {
	rt := needRef(t)
	type runCase struct {
		c  watCase
		mt string
	}
	var cases []runCase
	var ins [][]byte
	var types []string
	for _, c := range watCases {
		if c.calls == nil {
			continue
		}
		for _, mt := range meterTypes {
			cases = append(cases, runCase{c, mt})
			ins = append(ins, buildWAT(t, c))
			types = append(types, mt)
		}
	}
	refs := rt.meterBatch(t, ins, types)
	dir := t.TempDir()
	var jobs []nodeJob
	goRes := make([]runResult, len(cases))
	for i, rc := range cases {
		if refs[i].err != "" {
			t.Fatalf("%s/%s: reference threw %s", rc.c.name, rc.mt, refs[i].err)
		}
		got, err := Meter(ins[i], rc.mt)
		if err != nil {
			t.Fatalf("%s/%s: %v", rc.c.name, rc.mt, err)
		}
		if !bytes.Equal(got, refs[i].out) {
			t.Errorf("%s/%s: metered bytes differ from the reference", rc.c.name, rc.mt)
		}
		goRes[i] = runWasmtime(t, got, rc.mt, rc.c.limit, rc.c.calls)
		p := filepath.Join(dir, fmt.Sprintf("ref%d.wasm", i))
		if err := os.WriteFile(p, refs[i].out, 0o644); err != nil {
			t.Fatal(err)
		}
		job := nodeJob{Wasm: p, Limit: rc.c.limit}
		for _, c := range rc.c.calls {
			nc := nodeCall{Name: c.name, Args: []nodeArg{}}
			for _, a := range c.args {
				switch a := a.(type) {
				case int32:
					nc.Args = append(nc.Args, nodeArg{"i32", fmt.Sprint(a)})
				case int64:
					nc.Args = append(nc.Args, nodeArg{"i64", fmt.Sprint(a)})
				}
			}
			job.Calls = append(job.Calls, nc)
		}
		jobs = append(jobs, job)
	}
	nodeRes := runNode(t, rt, jobs)
	var total float64
	for i, rc := range cases {
		name := rc.c.name + "/" + rc.mt
		g, n := goRes[i], nodeRes[i]
		if g.InstErr || n.InstErr {
			t.Errorf("%s: instantiation failed: go %q, node %q", name, g.InstMsg, n.InstMsg)
			continue
		}
		if g.StartGas != n.StartGas {
			t.Errorf("%s: gas used by instantiation: go %v, node %v", name, g.StartGas, n.StartGas)
		}
		var per []string
		for _, c := range g.Calls {
			s := fmt.Sprint(c.Gas)
			if c.OOG {
				s += "(out of gas)"
			} else if c.Err {
				s += "(trap)"
			}
			per = append(per, s)
		}
		t.Logf("%s: start %v, calls %s", name, g.StartGas, strings.Join(per, " "))
		for j, c := range rc.c.calls {
			gc, nc := g.Calls[j], n.Calls[j]
			label := fmt.Sprintf("%s: %s%v", name, c.name, c.args)
			if gc.Gas != nc.Gas || gc.Total != nc.Total {
				t.Errorf("%s: gas go %v (total %v), node %v (total %v)", label, gc.Gas, gc.Total, nc.Gas, nc.Total)
			}
			if gc.Err != nc.Err || gc.OOG != nc.OOG {
				t.Errorf("%s: error go %v %q, node %v %q", label, gc.Err, gc.Msg, nc.Err, nc.Msg)
			}
			if (gc.Ret == nil) != (nc.Ret == nil) || (gc.Ret != nil && *gc.Ret != *nc.Ret) {
				t.Errorf("%s: result go %v, node %v", label, deref(gc.Ret), deref(nc.Ret))
			}
			total += gc.Gas
		}
	}
	// guard against a vacuous pass: the loops must have used gas, and the limited case must run out.
	if total == 0 {
		t.Error("no gas used at all")
	}
	oog := false
	for i, rc := range cases {
		if rc.c.limit != 0 {
			for _, c := range goRes[i].Calls {
				oog = oog || c.OOG
			}
		}
	}
	if !oog {
		t.Error("the limited case never ran out of gas")
	}
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// ------------------------------------------------------------------------------------------------------
// the real ao modules

var realModules = []struct {
	file      string
	meterType string // the one the loader would use (wasm64 -> i64)
	refuses   string // "" if the reference meters it
}{
	{"aos2_0_6.wasm", "i64", ""},
	{"aos2_0_4_32.wasm", "i32", ""},
	{"aos2_0_3.wasm", "i64", ""},
	{"aos2_0_1.wasm", "i32", ""},
	{"aos.wasm", "i32", ""},
	{"process.wasm", "i32", ""},
	{"sqlite.wasm", "i64", "unsupported opcode 0xfd"}, // SIMD
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".fixtures/modules", name))
	if err != nil {
		t.Skipf("fixture %s missing (run ./scripts/fixtures.sh): %v", name, err)
	}
	return b
}

// TestRealModules: the Go result for the real aos modules (without node: metered or refused as recorded).
func TestRealModules(t *testing.T) {
	for _, m := range realModules {
		in := readFixture(t, m.file)
		out, err := Meter(in, m.meterType)
		if m.refuses != "" {
			if !IsUnsupported(err) || !strings.Contains(err.Error(), m.refuses) {
				t.Errorf("%s: got %v, want a refusal with %q", m.file, err, m.refuses)
			}
			t.Logf("%s: %v", m.file, err)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", m.file, err)
			continue
		}
		t.Logf("%s: %d -> %d bytes", m.file, len(in), len(out))
	}
}

// TestRealModulesMatchReference compares Go and npm on the real modules, with both meter types.
func TestRealModulesMatchReference(t *testing.T) {
	rt := needRef(t)
	var ins [][]byte
	var types []string
	var names []string
	for _, m := range realModules {
		in := readFixture(t, m.file)
		for _, mt := range meterTypes {
			if testing.Short() && mt != m.meterType {
				continue
			}
			ins = append(ins, in)
			types = append(types, mt)
			names = append(names, m.file+"/"+mt)
		}
	}
	refs := rt.meterBatch(t, ins, types)
	for i := range ins {
		got, err := Meter(ins[i], types[i])
		checkAgainstRef(t, names[i], got, err, refs[i])
	}
}

// TestRealModulesCompile checks that wasmtime accepts the metered aos modules and that they import
// metering.usegas with the right type.
func TestRealModulesCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiling the aos modules takes a while")
	}
	cfg := wasmtime.NewConfig()
	cfg.SetWasmMemory64(true)
	engine := wasmtime.NewEngineWithConfig(cfg)
	for _, m := range realModules[:2] {
		out, err := Meter(readFixture(t, m.file), m.meterType)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := wasmtime.NewModule(engine, out)
		if err != nil {
			t.Fatalf("%s: wasmtime rejects the metered module: %v", m.file, err)
		}
		found := false
		for _, im := range mod.Imports() {
			if im.Module() == ImportModule && im.Name() != nil && *im.Name() == ImportField {
				ft := im.Type().FuncType()
				want := wasmtime.KindI32
				if m.meterType == "i64" {
					want = wasmtime.KindI64
				}
				found = ft != nil && len(ft.Params()) == 1 && ft.Params()[0].Kind() == want && len(ft.Results()) == 0
			}
		}
		if !found {
			t.Errorf("%s: no metering.usegas(%s) import", m.file, m.meterType)
		}
	}
}

func TestGas(t *testing.T) {
	g := NewGas(0)
	if g.Limit != DefaultGasLimit {
		t.Fatalf("default limit %v", g.Limit)
	}
	g = NewGas(100)
	if err := g.Use(60); err != nil {
		t.Fatal(err)
	}
	if err := g.Use(40); err != nil { // used == limit is still fine
		t.Fatal(err)
	}
	if err := g.Use(1); !errors.Is(err, ErrOutOfGas) || g.Used != 101 {
		t.Fatalf("got %v, used %v", err, g.Used)
	}
	g.Refill()
	if g.Used != 0 {
		t.Fatal("refill")
	}
	if ft, ok := MeterTypeForFormat(FormatWasm64Metering); !ok || ft != "i64" {
		t.Fatal(ft)
	}
	if ft, ok := MeterTypeForFormat(FormatWasm32Metering); !ok || ft != "i32" {
		t.Fatal(ft)
	}
	if _, ok := MeterTypeForFormat("wasm64-unknown-emscripten-draft_2024_02_15"); ok {
		t.Fatal("unmetered format")
	}
}

// MeterInline keeps Meter's output for everything but the inserted calls'
// target and the appended function, globals and exports; the loader's tests
// and test/difftest check that the gas counted and the results are the
// reference's.
func TestMeterInlineShape(t *testing.T) {
	wasm := readFixture(t, "aos2_0_4_32.wasm")
	plain, err := Meter(wasm, "i32")
	if err != nil {
		t.Fatal(err)
	}
	inl, err := MeterInline(wasm, "i32")
	if err != nil {
		t.Fatal(err)
	}
	if len(inl) <= len(plain) {
		t.Fatalf("inline output %d bytes, plain %d", len(inl), len(plain))
	}
	for _, name := range []string{InlineUsedGlobal, InlineLimitGlobal} {
		if !bytes.Contains(inl, []byte(name)) {
			t.Fatalf("no %s export", name)
		}
	}
	if _, err := MeterInline([]byte("\x00asm\x01\x00\x00\x00"), "i32"); !errors.Is(err, ErrNoInline) {
		t.Fatalf("a module without sections: %v", err)
	}
}
