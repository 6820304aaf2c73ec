package loader

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func profileEngine(t *testing.T, version, thisProgram string) *Engine {
	t.Helper()
	e, err := NewEngine(withTestTier(EngineConfig{CacheDir: filepath.Join(os.TempDir(), "aocu-loader-test-cache"), LoaderVersion: version, ThisProgram: thisProgram}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestEngineConfigValidation(t *testing.T) {
	if _, err := NewEngine(EngineConfig{LoaderVersion: "0.0.45"}); err == nil || !strings.Contains(err.Error(), "0.0.44, 0.0.47, 0.0.48, 0.0.49") {
		t.Errorf("unknown loader version: %v", err)
	}
	if _, err := NewEngine(EngineConfig{ThisProgram: "/usr/app/src/äpp.js"}); err == nil {
		t.Error("non-ASCII thisProgram accepted")
	}
	e := profileEngine(t, "", "")
	if e.LoaderVersion() != "0.0.44" || e.ThisProgram() != "/usr/app/src/effects/worker/evaluator/index.js" {
		t.Errorf("defaults: %s %s", e.LoaderVersion(), e.ThisProgram())
	}
	if e := profileEngine(t, "0.0.47", `C:\cu\src\app.js`); e.ThisProgram() != "C:/cu/src/app.js" {
		t.Errorf("backslashes: %s", e.ThisProgram())
	}
}

// TestLoaderProfiles checks what a module sees under each loader version: the
// environment strings (0.0.44 only), Patches (0.0.48+), and that the memory
// depends on the environment strings only (test/difftest compares the memory
// with the reference loaders').
func TestLoaderProfiles(t *testing.T) {
	cases := []struct {
		version, thisProgram string
		getenv               string
		patches              bool
	}{
		{"0.0.44", "", "/usr/app/src/effects/worker/evaluator/index.js|/home/web_user|C.UTF-8", false},
		{"0.0.44", `C:\cu\src\app.js`, "C:/cu/src/app.js|/home/web_user|C.UTF-8", false},
		{"0.0.47", "", "nil|nil|nil", false},
		{"0.0.48", "", "nil|nil|nil", true},
		{"0.0.49", "/somewhere/else.js", "nil|nil|nil", true},
	}
	for _, f := range []fixture{aos64, aos32} {
		wasm, err := os.ReadFile(repoPath(".fixtures", "modules", f.name))
		if err != nil {
			t.Skipf("fixture %s missing (run ./scripts/fixtures.sh)", f.name)
		}
		env, msgs := scenario(t, "probe", f)
		spawned := map[string]string{} // memory sha256 after the spawn, by case
		for _, c := range cases {
			t.Run(f.name+"/"+c.version+"/"+c.thisProgram, func(t *testing.T) {
				ctx := context.Background()
				m, _, err := profileEngine(t, c.version, c.thisProgram).Compile(ctx, wasm, f.format)
				if err != nil {
					t.Fatal(err)
				}
				p, err := m.NewProcess(ctx, ProcessOptions{GasLimit: 9e12})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				r, err := p.Handle(ctx, msgs[0], env)
				if err != nil || r.Failed() {
					t.Fatalf("spawn: %v %+v", err, r)
				}
				spawned[c.version+" "+c.thisProgram] = memHash(p)
				if (r.Patches != nil) != c.patches {
					t.Errorf("Patches %q, want present=%v", r.Patches, c.patches)
				}
				r, err = p.Handle(ctx, evalMsg(t, msgs[1], "GETENV", 2,
					`return (os.getenv("_") or "nil") .. "|" .. (os.getenv("HOME") or "nil") .. "|" .. (os.getenv("LANG") or "nil")`), env)
				if err != nil || r.Failed() {
					t.Fatalf("eval: %v %+v", err, r)
				}
				// (wasm32 aos warns first that the probe's Nonce did not match)
				if got := outputData(t, r); !strings.HasSuffix(got, "\n"+c.getenv) && got != c.getenv {
					t.Errorf("os.getenv: %q, want %q", got, c.getenv)
				}
			})
		}
		if spawned["0.0.47 "] != spawned["0.0.48 "] || spawned["0.0.48 "] != spawned["0.0.49 /somewhere/else.js"] {
			t.Errorf("%s: 0.0.47+ memories differ: %v", f.name, spawned)
		}
		if spawned["0.0.44 "] == spawned["0.0.47 "] || spawned["0.0.44 "] == spawned[`0.0.44 C:\cu\src\app.js`] {
			t.Errorf("%s: the environment strings do not change the memory: %v", f.name, spawned)
		}
	}
}

// TestJSDateEdges: the range of JavaScript's Date and Date.UTC's two-digit
// years, which the glue's gmtime/localtime/mktime inherit (the dates scenario
// of test/difftest compares the results with the reference loaders).
func TestJSDateEdges(t *testing.T) {
	for _, c := range []struct {
		t     int64
		valid bool
	}{{8640000000000, true}, {8640000000001, false}, {-8640000000000, true}, {-8640000000001, false}, {1 << 60, false}, {0, true}} {
		if got := jsDateValid(c.t); got != c.valid {
			t.Errorf("jsDateValid(%d) = %v", c.t, got)
		}
	}
	if ms, ok := jsDateUTC(1); !ok || ms != -2177452800000 { // Date.UTC(1, 0, 1) is 1901-01-01
		t.Errorf("Date.UTC(1, 0, 1) = %v %v", ms, ok)
	}
	if ms, ok := jsDateUTC(100); !ok || ms != -59011459200000 {
		t.Errorf("Date.UTC(100, 0, 1) = %v %v", ms, ok)
	}
	if _, ok := jsDateUTC(-271821); ok { // before -271821-04-20
		t.Error("Date.UTC(-271821, 0, 1) is NaN in JavaScript")
	}
}
