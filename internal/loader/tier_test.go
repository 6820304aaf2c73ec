package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/aot"
)

// tierEngines returns an engine of each tier with the test engine's
// settings; it skips when wasm2c is missing outside CI.
func tierEngines(t *testing.T) (cranelift, ahead *Engine) {
	t.Helper()
	w2c, err := aot.FindWasm2c(repoPath())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the ahead-of-time tier's wasm2c is missing in CI: %v", err)
		}
		t.Skipf("no wasm2c for the ahead-of-time tier (run ./scripts/fixtures.sh): %v", err)
	}
	mk := func(tier Tier) *Engine {
		e, err := NewEngine(EngineConfig{CacheDir: filepath.Join(os.TempDir(), "aocu-loader-test-cache"),
			LoaderVersion: LoaderVersion049, ThisProgram: nodeEvalThisProgram, Tier: tier, AOT: &aot.Toolchain{Wasm2c: w2c, CacheDir: testAOTCache}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	return mk(TierCranelift), mk(TierAOT)
}

// fixtureWasm reads a module fixture, skipping when it is missing.
func fixtureWasm(t *testing.T, f fixture) []byte {
	t.Helper()
	wasm, err := os.ReadFile(repoPath(".fixtures", "modules", f.name))
	if err != nil {
		t.Skipf("fixture %s missing (run ./scripts/fixtures.sh): %v", f.name, err)
	}
	return wasm
}

// TestTiersAgree runs the same messages on Cranelift and on the
// ahead-of-time tier: every result and the memory after every message must
// be identical, and a process moves between the tiers through its memory
// image (as when the tier of a module changes under a running CU).
func TestTiersAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("long: compiles the aos modules to C once (cached), runs a scenario on both tiers")
	}
	ce, ae := tierEngines(t)
	for _, f := range []fixture{aos64, aos32} {
		t.Run(f.name, func(t *testing.T) {
			wasm := fixtureWasm(t, f)
			ctx := context.Background()
			cm, cst, err := ce.Compile(ctx, wasm, f.format)
			if err != nil || cm.Tier() != TierCranelift || cst.Tier != TierCranelift {
				t.Fatalf("cranelift: %v, tier %s", err, cm.Tier())
			}
			am, ast, err := ae.Compile(ctx, wasm, f.format)
			if err != nil {
				t.Fatal(err)
			}
			if am.Tier() != TierAOT || ast.Tier != TierAOT {
				t.Fatalf("aot: the module runs on %s: %s", am.Tier(), ast.TierReason)
			}
			env, msgs := scenario(t, "full", f)
			if len(msgs) > 24 {
				msgs = msgs[:24]
			}
			cp, err := cm.NewProcess(ctx, ProcessOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			ap, err := am.NewProcess(ctx, ProcessOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer ap.Close()
			if memHash(cp) != memHash(ap) {
				t.Fatal("the fresh instances' memories differ")
			}
			for i, msg := range msgs {
				cr, cerr := cp.Handle(ctx, msg, env)
				ar, aerr := ap.Handle(ctx, msg, env)
				if (cerr == nil) != (aerr == nil) || (cerr != nil && cerr.Error() != aerr.Error()) {
					t.Fatalf("message %d: cranelift %v, aot %v", i+1, cerr, aerr)
				}
				cb, _ := json.Marshal(cr)
				ab, _ := json.Marshal(ar)
				if string(cb) != string(ab) {
					t.Fatalf("message %d differs:\n cranelift: %s\n aot:       %s", i+1, cb, ab)
				}
				if i%8 != 0 && !cr.Failed() && i != len(msgs)-1 {
					continue // hashing 110 MB twice per message is most of the test's time
				}
				if ch, ah := memHash(cp), memHash(ap); ch != ah {
					t.Fatalf("message %d: memory %s on cranelift, %s on aot", i+1, ch, ah)
				}
			}
			// Each tier resumes the other's process from its memory image.
			for _, c := range []struct {
				name     string
				from, to *Module
				src      *Process
			}{{"cranelift to aot", cm, am, cp}, {"aot to cranelift", am, cm, ap}} {
				img := append([]byte(nil), c.src.Memory()...)
				p, err := c.to.NewProcess(ctx, ProcessOptions{Memory: img})
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				r1, err1 := p.Handle(ctx, msgs[len(msgs)-1], env)
				r2, err2 := c.src.Handle(ctx, msgs[len(msgs)-1], env)
				b1, _ := json.Marshal(r1)
				b2, _ := json.Marshal(r2)
				if err1 != nil || err2 != nil || string(b1) != string(b2) || memHash(p) != memHash(c.src) {
					t.Errorf("%s: %v / %v\n resumed: %s\n original: %s", c.name, err1, err2, b1, b2)
				}
				p.Close()
			}
		})
	}
}

// TestAutoTierSwitchesInTheBackground: on TierAuto a module runs on
// Cranelift at once; once its ahead-of-time compile is done, new processes
// run the compiled code, and a process made before moves there at its next
// message.
func TestAutoTierSwitchesInTheBackground(t *testing.T) {
	if testing.Short() {
		t.Skip("long: compiles an aos module to C once (cached)")
	}
	ce, _ := tierEngines(t)
	w2c, _ := aot.FindWasm2c(repoPath())
	var logged []string
	var mu sync.Mutex
	e, err := NewEngine(EngineConfig{CacheDir: ce.cfg.CacheDir, LoaderVersion: LoaderVersion049, ThisProgram: nodeEvalThisProgram,
		Tier: TierAuto, AOT: &aot.Toolchain{Wasm2c: w2c, CacheDir: testAOTCache}, Logf: func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			logged = append(logged, fmt.Sprintf(f, a...))
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	wasm := fixtureWasm(t, aos32)
	ctx := context.Background()
	m, st, err := e.Compile(ctx, wasm, aos32.format)
	if err != nil {
		t.Fatal(err)
	}
	if st.Tier != TierCranelift || !strings.Contains(st.TierReason, "background") {
		t.Fatalf("first Compile: tier %s, reason %q", st.Tier, st.TierReason)
	}
	before, err := m.NewProcess(ctx, ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	deadline := time.Now().Add(3 * time.Minute)
	for m.Tier() != TierAOT {
		if time.Now().After(deadline) {
			t.Fatalf("the module is still on %s; log: %q", m.Tier(), logged)
		}
		time.Sleep(20 * time.Millisecond)
	}
	after, err := m.NewProcess(ctx, ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if _, ok := after.inst.vm.(*aotVM); !ok {
		t.Fatalf("a process made after the switch runs on %T", after.inst.vm)
	}
	if _, ok := before.inst.vm.(*wasmtimeVM); !ok {
		t.Fatalf("before its next message, a process made before the switch runs on %T", before.inst.vm)
	}
	// A message for each on the process made before: the first moves it to
	// the compiled code (a snapshot, then a new instance), the second runs
	// there; its results and memory are those of the process made after.
	env, msgs := scenario(t, "probe", aos32)
	for i, msg := range msgs[:4] {
		r1, err1 := before.Handle(ctx, msg, env)
		r2, err2 := after.Handle(ctx, msg, env)
		b1, _ := json.Marshal(r1)
		b2, _ := json.Marshal(r2)
		if err1 != nil || err2 != nil || string(b1) != string(b2) || memHash(before) != memHash(after) {
			t.Fatalf("message %d: %v / %v\n before the switch: %s\n after: %s", i+1, err1, err2, b1, b2)
		}
		if _, ok := before.inst.vm.(*aotVM); !ok {
			t.Fatalf("message %d: the process made before the switch still runs on %T", i+1, before.inst.vm)
		}
	}
	// A second Compile of the module gets the compiled code at once.
	if _, st, err := e.Compile(ctx, wasm, aos32.format); err != nil || st.Tier != TierAOT {
		t.Fatalf("second Compile: %v, tier %s (%s)", err, st.Tier, st.TierReason)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 1 || !strings.Contains(logged[0], "runs ahead of time from now on") {
		t.Fatalf("log: %q", logged)
	}
}

// TestAOTFallsBack: a module the ahead-of-time tools fail on (here: a wasm2c
// that exits with an error, as npm wabt's does on sqlite.wasm) runs on
// Cranelift, and the engine says why.
func TestAOTFallsBack(t *testing.T) {
	tierEngines(t) // skips without the tools, as the other tier tests do
	e, err := NewEngine(EngineConfig{LoaderVersion: LoaderVersion049, ThisProgram: nodeEvalThisProgram,
		Tier: TierAOT, AOT: &aot.Toolchain{Wasm2c: []string{"false"}, CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	wasm := fixtureWasm(t, aos32)
	m, st, err := e.Compile(context.Background(), wasm, aos32.format)
	if err != nil {
		t.Fatal(err)
	}
	if m.Tier() != TierCranelift || st.Tier != TierCranelift || !strings.Contains(st.TierReason, "the ahead-of-time compile failed") {
		t.Fatalf("tier %s / %s, reason %q", m.Tier(), st.Tier, st.TierReason)
	}
	p, err := m.NewProcess(context.Background(), ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.inst.vm.(*wasmtimeVM); !ok {
		t.Fatalf("the process runs on %T", p.inst.vm)
	}
}
