package loader

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/aocu/aocu/internal/aot"
	"github.com/aocu/aocu/internal/fsutil"
	"github.com/aocu/aocu/internal/metering"
)

// epochTick is how often the engine's epoch advances; timeouts are counted in ticks.
const epochTick = 10 * time.Millisecond

// cacheVersion changes whenever the compiled artifact would change for the same
// input: the wasmtime version, the engine settings below, the metering transform.
const cacheVersion = "aocu-wasmtime-v39.0.1-epoch-mem64-simd-v2-inline-gas"

// maxWasmStack is the native stack wasm code may use. wasmtime's default (512
// KiB) overflows before Lua's own limits (LUAI_MAXCCALLS: "C stack overflow",
// "stack overflow") on deep C recursion (nested coroutines, gsub callbacks),
// where the reference's V8 stack (984 KB on node's main thread, 4 MB in the
// reference CU's worker threads) lets Lua's limit answer first. Go runs cgo
// calls on 8 MB thread stacks; this leaves room for the host's frames.
const maxWasmStack = 4 << 20

// EngineConfig configures an Engine.
type EngineConfig struct {
	// CacheDir keeps compiled modules on disk, keyed by the module's sha256 and
	// format, so a restart does not recompile. Empty disables the cache.
	CacheDir string
	// LoaderVersion selects the @permaweb/ao-loader version whose behaviour
	// modules see (see profile.go): "0.0.44" (the default, "" means it),
	// "0.0.47", "0.0.48" or "0.0.49".
	LoaderVersion string
	// ThisProgram is the glue's thisProgram: process.argv[1] of the node
	// process that runs the reference loader (backslashes become slashes). It
	// is in the environment strings ("_=") and, for emscripten2, main's argv,
	// so in the memory. Empty means DefaultThisProgram.
	ThisProgram string
	// Tier selects the code modules run as: TierCranelift (the default, ""),
	// TierAuto or TierAOT.
	Tier Tier
	// AOT translates and compiles modules for TierAOT and TierAuto; nil
	// means a toolchain with the defaults of package aot.
	AOT *aot.Toolchain
	// Logf reports what happens in the background (TierAuto); nil: nothing.
	Logf func(format string, args ...any)
}

// Tier is the code modules run as.
type Tier string

const (
	// TierCranelift runs every module on wasmtime (Cranelift).
	TierCranelift Tier = "cranelift"
	// TierAuto is TierAOT without the wait: a module runs on wasmtime at
	// once, is compiled ahead of time in the background, and the instances
	// made after that run the compiled code; a live process moves at its
	// next message (Process.switchTier: its memory is the same on both
	// tiers).
	TierAuto Tier = "auto"
	// TierAOT runs the modules it can (aotEligible) as C compiled ahead of
	// time (wasm2c and cc, package aot), compiled when the module is and
	// cached; the others, and a module the tools fail on, run on wasmtime
	// (CompileStats.TierReason says why).
	TierAOT Tier = "aot"
)

// TierEnv is the environment variable that selects the tier of `aocu serve`,
// `aocu dev` and `aocu eval` (ParseTier), and the ahead-of-time tier's tools:
// AOCU_WASM2C (package aot's FindWasm2c) and CC, the C compiler.
const TierEnv = "AOCU_WASM_TIER"

// AOTToolchain is the ahead-of-time tier's toolchain for a compiled-module
// cache directory (its "aot" subdirectory; "" means the user's cache) with
// the C compiler of $CC.
func AOTToolchain(cacheDir string, logf func(string, ...any)) *aot.Toolchain {
	t := &aot.Toolchain{CC: os.Getenv("CC"), Logf: logf}
	if cacheDir != "" {
		t.CacheDir = filepath.Join(cacheDir, "aot")
	}
	return t
}

// ParseTier parses a tier name; "" is TierCranelift.
func ParseTier(s string) (Tier, error) {
	switch Tier(s) {
	case "", TierCranelift:
		return TierCranelift, nil
	case TierAOT, TierAuto:
		return Tier(s), nil
	}
	return "", fmt.Errorf("loader: unknown tier %q (want %q, %q or %q)", s, TierCranelift, TierAuto, TierAOT)
}

// Engine compiles modules and owns the epoch ticker that enforces wall-clock
// timeouts. One Engine serves every module and process; Close stops it.
type Engine struct {
	cfg         EngineConfig
	profile     profile
	thisProgram string
	engine      *wasmtime.Engine
	gasCounters gasCounters
	stop        chan struct{}
	done        chan struct{}
	once        sync.Once

	// bgCtx ends the background compiles (TierAuto) at Close; bg counts them.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	aotMu    sync.Mutex
	aotJobs  map[string]*aotJob // by module sha256 and metering
}

// aotJob is the ahead-of-time compile of one module, shared by every Compile
// of it.
type aotJob struct {
	done chan struct{}
	mod  *aot.Module
	err  error
}

func (j *aotJob) wait(ctx context.Context) (*aot.Module, error) {
	select {
	case <-j.done:
		return j.mod, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// aotJob returns the compile of code (the module as it runs: metered inline
// for a metering format), keyed by the module's sha256 and its metering,
// started if it is not yet: it runs until it is done or the engine closes,
// whoever waits for it.
func (e *Engine) aotJob(key string, code []byte) *aotJob {
	e.aotMu.Lock()
	defer e.aotMu.Unlock()
	if j := e.aotJobs[key]; j != nil {
		return j
	}
	j := &aotJob{done: make(chan struct{})}
	e.aotJobs[key] = j
	tc := e.cfg.AOT
	if tc == nil {
		tc = &aot.Toolchain{}
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		defer close(j.done)
		j.mod, j.err = tc.Compile(e.bgCtx, code)
		if j.err != nil {
			// a later Compile tries again (a tool installed meanwhile, a
			// transient failure), except after Close
			e.aotMu.Lock()
			delete(e.aotJobs, key)
			e.aotMu.Unlock()
		}
	}()
	return j
}

func (e *Engine) logf(format string, args ...any) {
	if e.cfg.Logf != nil {
		e.cfg.Logf(format, args...)
	}
}

// NewEngine creates the wasmtime engine with the features ao modules need
// (memory64, SIMD, bulk memory) and epoch interruption for the timeout guard.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	prof, err := profileOf(cfg.LoaderVersion)
	if err != nil {
		return nil, err
	}
	thisProgram := glueThisProgram(cfg.ThisProgram)
	if err := CheckThisProgram(thisProgram); err != nil {
		return nil, err
	}
	c := wasmtime.NewConfig()
	c.SetWasmMemory64(true)
	c.SetWasmSIMD(true)
	c.SetWasmBulkMemory(true)
	c.SetWasmMultiValue(true)
	c.SetEpochInterruption(true)
	c.SetMaxWasmStack(maxWasmStack)
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("loader: module cache dir: %w", err)
		}
	}
	e := &Engine{cfg: cfg, profile: prof, thisProgram: thisProgram, engine: wasmtime.NewEngineWithConfig(c), stop: make(chan struct{}), done: make(chan struct{}),
		aotJobs: map[string]*aotJob{}}
	e.bgCtx, e.bgCancel = context.WithCancel(context.Background())
	go e.tick()
	return e, nil
}

func (e *Engine) tick() {
	defer close(e.done)
	t := time.NewTicker(epochTick)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.engine.IncrementEpoch()
		}
	}
}

// LoaderVersion returns the @permaweb/ao-loader version the engine reproduces.
func (e *Engine) LoaderVersion() string { return e.profile.version }

// ThisProgram returns the glue's thisProgram the engine uses.
func (e *Engine) ThisProgram() string { return e.thisProgram }

// Close stops the epoch ticker. Modules and processes of the engine must not be
// used afterwards.
func (e *Engine) Close() error {
	e.once.Do(func() {
		e.bgCancel()
		e.bg.Wait()
		close(e.stop)
		<-e.done
	})
	return nil
}

// CompileStats tells how a module was obtained.
type CompileStats struct {
	FromCache bool
	Duration  time.Duration
	// CacheErr is set when the compiled artifact could not be written to the
	// cache; compiling still succeeded.
	CacheErr error
	// Tier is the code the module runs as; TierReason says why it is not the
	// configured one.
	Tier       Tier
	TierReason string
}

// Compile validates and compiles a module for a format, using the on-disk cache
// when configured. It checks what the host needs: the wasm header, a memory of
// the format's width, and the exports the glue calls.
func (e *Engine) Compile(ctx context.Context, wasm []byte, format Format) (*Module, CompileStats, error) {
	var st CompileStats
	start := time.Now()
	spec, err := format.spec()
	if err != nil {
		return nil, st, err
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, st, fmt.Errorf("%w: not a WebAssembly binary (missing \\0asm header)", ErrInvalidModule)
	}
	if err := ctx.Err(); err != nil {
		return nil, st, err
	}
	sum := sha256.Sum256(wasm)
	hash := hex.EncodeToString(sum[:])
	code := wasm
	if spec.meterType != "" {
		code, err = metering.MeterInline(wasm, spec.meterType)
		if errors.Is(err, metering.ErrNoInline) {
			code, err = metering.Meter(wasm, spec.meterType)
		}
		if err != nil {
			return nil, st, fmt.Errorf("%w: metering for %s: %v", ErrInvalidModule, format, err)
		}
	}
	var mod *wasmtime.Module
	cachePath := ""
	if e.cfg.CacheDir != "" {
		key := sha256.Sum256([]byte(cacheVersion + "\x00" + string(format) + "\x00" + hash))
		cachePath = filepath.Join(e.cfg.CacheDir, hex.EncodeToString(key[:16])+".cwasm")
		if m, err := readCache(e.engine, cachePath); err == nil {
			mod, st.FromCache = m, true
		}
	}
	if mod == nil {
		mod, err = wasmtime.NewModule(e.engine, code)
		if err != nil {
			return nil, st, fmt.Errorf("%w: %v", ErrInvalidModule, err)
		}
		if cachePath != "" {
			st.CacheErr = writeCache(cachePath, mod)
		}
	}
	m, err := newModule(e, mod, format, spec, hash)
	if err != nil {
		return nil, st, err
	}
	st.Tier = TierCranelift
	switch why := aotEligible(m); {
	case e.cfg.Tier == TierCranelift || e.cfg.Tier == "":
	case why != "":
		st.TierReason = why
	case e.cfg.Tier == TierAOT:
		am, err := e.aotJob(hash+"/"+spec.meterType, code).wait(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, st, fmt.Errorf("loader: ahead-of-time compile: %w", err)
		case err != nil:
			// wasm2c or cc could not do it (npm wabt's wasm2c runs out of its
			// own memory on some large modules): Cranelift runs it.
			st.TierReason = fmt.Sprintf("the ahead-of-time compile failed: %v", err)
		default:
			m.aot.Store(am)
			st.Tier = TierAOT
		}
	case e.cfg.Tier == TierAuto:
		job := e.aotJob(hash+"/"+spec.meterType, code)
		select {
		case <-job.done:
			if job.err == nil {
				m.aot.Store(job.mod)
				st.Tier = TierAOT
			} else {
				st.TierReason = fmt.Sprintf("the ahead-of-time compile failed: %v", job.err)
			}
		default:
			st.TierReason = "compiling ahead of time in the background; new instances switch when it is done"
			e.bg.Add(1)
			go func() {
				defer e.bg.Done()
				if am, err := job.wait(e.bgCtx); err == nil {
					m.aot.Store(am)
					e.logf("loader: module %s (%s) runs ahead of time from now on", hash[:12], format)
				} else if e.bgCtx.Err() == nil {
					e.logf("loader: module %s (%s) stays on cranelift: the ahead-of-time compile failed: %v", hash[:12], format, err)
				}
			}()
		}
	}
	st.Duration = time.Since(start)
	return m, st, nil
}

// cacheMagic starts every cache file; a sha256 of the payload follows it.
// Deserializing is only safe on intact artifacts (wasmtime trusts them), so a
// truncated or corrupt file is detected here and the module recompiled.
const cacheMagic = "AOCU-CWASM-1\n"

func readCache(engine *wasmtime.Engine, path string) (*wasmtime.Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < len(cacheMagic)+sha256.Size || string(b[:len(cacheMagic)]) != cacheMagic {
		return nil, fmt.Errorf("module cache %s: bad header", path)
	}
	sum := b[len(cacheMagic) : len(cacheMagic)+sha256.Size]
	payload := b[len(cacheMagic)+sha256.Size:]
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("module cache %s: checksum mismatch", path)
	}
	return wasmtime.NewModuleDeserialize(engine, payload)
}

func writeCache(path string, mod *wasmtime.Module) error {
	payload, err := mod.Serialize()
	if err != nil {
		return fmt.Errorf("serialize module: %w", err)
	}
	sum := sha256.Sum256(payload)
	b := make([]byte, 0, len(cacheMagic)+len(sum)+len(payload))
	b = append(append(append(b, cacheMagic...), sum[:]...), payload...)
	return fsutil.WriteFileAtomic(path, b)
}
