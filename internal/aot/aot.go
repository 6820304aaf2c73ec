// Package aot is the ahead-of-time tier (docs/aot-tier.md): it translates a
// wasm module (memory64 or memory32, as emscripten builds aos) to C with
// wasm2c 1.0.39, compiles the C with the system's C compiler into a shared
// object (cached), dlopens it and runs instances of it, with the host's
// imports implemented in Go (Host), traps returned as errors, timeouts by a
// per-thread POSIX timer, and emscripten's invoke_*/longjmp handled in C.
//
// The shared object is built from wasm2c's C (patched: its checked memory
// accessors forced inline, a native stack check in every function's
// prologue), aocu's small runtime (rt/wasm-rt.c, rt/wasm-rt.h) and glue
// generated from wasm2c's header (gen.go). It talks to the Go process only
// through function pointers (rt/aot-abi.h, host.c).
//
// Bounds: memory64 accesses are checked explicitly; memory32 accesses are not
// checked but land in an 8 GiB reservation whose part past the accessible
// size is PROT_NONE, and host.c's SIGSEGV/SIGBUS handler turns a fault there
// in wasm code into an out-of-bounds trap, chaining every other fault to the
// handler installed before it (wasmtime's or Go's).
package aot

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed rt/wasm-rt.h rt/wasm-rt.c rt/aot-abi.h
var rtFS embed.FS

// rtVersion is the sha256 of the runtime sources and the glue's version:
// part of every cache key, so that a change to either recompiles.
var rtVersion = func() string {
	h := sha256.New()
	h.Write([]byte(glueVersion))
	names, _ := fs.Glob(rtFS, "rt/*")
	sort.Strings(names)
	for _, n := range names {
		b, _ := rtFS.ReadFile(n)
		fmt.Fprintf(h, "%s %d\n", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}()

// DefaultCFlags keep wasm's floating-point semantics: no contraction into
// FMA, no fast math.
var DefaultCFlags = []string{"-O2", "-ffp-contract=off", "-fno-fast-math"}

// Toolchain translates and compiles modules; zero values mean defaults.
// Its methods may be called concurrently.
type Toolchain struct {
	Wasm2c   []string // argv prefix of wasm2c; default: FindWasm2c("")
	CC       string   // default "cc"
	CFlags   []string // default DefaultCFlags
	CacheDir string   // default os.UserCacheDir()/aocu/aot
	Logf     func(format string, args ...any)

	mu       sync.Mutex
	versions map[string]string // tool command line -> its --version
	modules  map[string]*Module
}

func (t *Toolchain) logf(format string, args ...any) {
	if t.Logf != nil {
		t.Logf(format, args...)
	}
}

func (t *Toolchain) cc() string {
	if t.CC != "" {
		return t.CC
	}
	return "cc"
}

func (t *Toolchain) cflags() []string {
	if t.CFlags != nil {
		return t.CFlags
	}
	return DefaultCFlags
}

func (t *Toolchain) cacheDir() (string, error) {
	if t.CacheDir != "" {
		return t.CacheDir, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "aocu", "aot"), nil
}

// version runs argv --version once per Toolchain and remembers its first
// line.
func (t *Toolchain) version(ctx context.Context, argv []string) (string, error) {
	key := strings.Join(argv, "\x00")
	t.mu.Lock()
	v, ok := t.versions[key]
	t.mu.Unlock()
	if ok {
		return v, nil
	}
	out, err := exec.CommandContext(ctx, argv[0], append(argv[1:len(argv):len(argv)], "--version")...).Output()
	if err != nil {
		return "", fmt.Errorf("aot: %s --version: %w", strings.Join(argv, " "), err)
	}
	v = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	t.mu.Lock()
	if t.versions == nil {
		t.versions = map[string]string{}
	}
	t.versions[key] = v
	t.mu.Unlock()
	return v, nil
}

// Compile returns the module compiled from wasm: from the cache directory
// when it holds it (and from memory when this Toolchain loaded it before),
// else translated by wasm2c and compiled by cc, then cached. ctx cancels the
// child processes.
func (t *Toolchain) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	w2c := t.Wasm2c
	if len(w2c) == 0 {
		var err error
		if w2c, err = FindWasm2c(""); err != nil {
			return nil, err
		}
	}
	w2cVersion, err := t.version(ctx, w2c)
	if err != nil {
		return nil, err
	}
	ccVersion, err := t.version(ctx, []string{t.cc()})
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	wasmSum := sha256.Sum256(wasm)
	fmt.Fprintf(h, "wasm %x\nwasm2c %s\ncc %s\ncflags %q\nrt %s\n", wasmSum, w2cVersion, ccVersion, t.cflags(), rtVersion)
	key := hex.EncodeToString(h.Sum(nil))[:32]

	t.mu.Lock()
	if m := t.modules[key]; m != nil {
		t.mu.Unlock()
		t.logf("aot: module %x: loaded already", wasmSum[:6])
		return m, nil
	}
	t.mu.Unlock()

	dir, err := t.cacheDir()
	if err != nil {
		return nil, err
	}
	so := filepath.Join(dir, key+".so")
	if _, err := os.Stat(so); err == nil {
		t.logf("aot: module %x: cache hit %s", wasmSum[:6], so)
	} else {
		if err := t.build(ctx, w2c, wasm, dir, so); err != nil {
			return nil, err
		}
	}
	m, err := load(so)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.modules == nil {
		t.modules = map[string]*Module{}
	}
	if prev := t.modules[key]; prev != nil {
		m = prev
	} else {
		t.modules[key] = m
	}
	t.mu.Unlock()
	return m, nil
}

// build translates and compiles wasm into the shared object so, written
// atomically (a temporary file renamed into place).
func (t *Toolchain) build(ctx context.Context, w2c []string, wasm []byte, dir, so string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	sum := sha256.Sum256(wasm)
	t.logf("aot: module %x: translating (%d bytes of wasm)", sum[:6], len(wasm))
	if err := os.WriteFile(filepath.Join(work, "module.wasm"), wasm, 0o644); err != nil {
		return err
	}
	names, _ := fs.Glob(rtFS, "rt/*")
	for _, n := range names {
		b, _ := rtFS.ReadFile(n)
		if err := os.WriteFile(filepath.Join(work, filepath.Base(n)), b, 0o644); err != nil {
			return err
		}
	}
	args := append(append([]string{}, w2c[1:]...), "--enable-memory64", "module.wasm", "-n", "aot", "-o", "aot.c")
	if err := run(ctx, work, w2c[0], args...); err != nil {
		return fmt.Errorf("aot: wasm2c: %w", err)
	}
	csrc, err := os.ReadFile(filepath.Join(work, "aot.c"))
	if err != nil {
		return err
	}
	hdr, err := os.ReadFile(filepath.Join(work, "aot.h"))
	if err != nil {
		return err
	}
	if csrc, err = patchC(csrc); err != nil {
		return err
	}
	wims, err := wasmImports(wasm)
	if err != nil {
		return err
	}
	glue, err := genGlue(string(hdr), csrc, wims)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "aot.c"), csrc, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "glue.c"), glue, 0o644); err != nil {
		return err
	}
	t.logf("aot: module %x: compiling %d KiB of C", sum[:6], len(csrc)>>10)
	out := filepath.Join(work, "module.so")
	ccArgs := append(append([]string{}, t.cflags()...),
		"-fPIC", "-shared", "-fvisibility=hidden", "-w", "-I.", "-o", out,
		"aot.c", "wasm-rt.c", "glue.c", "-lm")
	if err := run(ctx, work, t.cc(), ccArgs...); err != nil {
		return fmt.Errorf("aot: cc: %w", err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := so + ".tmp-" + hex.EncodeToString(rnd[:])
	if err := os.Rename(out, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, so); err != nil {
		os.Remove(tmp)
		return err
	}
	t.logf("aot: module %x: compiled into %s", sum[:6], so)
	return nil
}

func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 4000 {
			msg = msg[:4000] + "..."
		}
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return nil
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`)

// FindWasm2c finds a wasm2c with memory64 (>= 1.0.34): the command line in
// $AOCU_WASM2C (split on spaces), else npm's wabt under
// root/.fixtures/wabt/node_modules (run by node; root "" means none), else
// wasm2c on PATH if its --version is at least 1.0.34.
func FindWasm2c(root string) ([]string, error) {
	if v := strings.Fields(os.Getenv("AOCU_WASM2C")); len(v) > 0 {
		return v, nil
	}
	if root != "" {
		js := filepath.Join(root, ".fixtures", "wabt", "node_modules", "wabt", "bin", "wasm2c")
		if _, err := os.Stat(js); err == nil {
			node, err := exec.LookPath("node")
			if err != nil {
				return nil, fmt.Errorf("aot: %s needs node: %w", js, err)
			}
			return []string{node, js}, nil
		}
	}
	p, err := exec.LookPath("wasm2c")
	if err != nil {
		return nil, errors.New("aot: no wasm2c: set AOCU_WASM2C, run scripts/fixtures.sh (npm wabt@1.0.39) or install wabt >= 1.0.34")
	}
	out, err := exec.Command(p, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("aot: %s --version: %w", p, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return nil, fmt.Errorf("aot: %s --version: %q", p, out)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	if a < 1 || (a == 1 && b == 0 && c < 34) {
		return nil, fmt.Errorf("aot: %s is wabt %s; memory64 needs >= 1.0.34", p, m[0])
	}
	return []string{p}, nil
}
