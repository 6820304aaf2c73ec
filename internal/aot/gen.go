package aot

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// This file turns wasm2c's output (aot.c and aot.h, generated with -n aot)
// into what the shared object is compiled from: the C patched (accessors
// forced inline, the stack check in every prologue) and the glue (import
// trampolines, invoke_*, export wrappers, the module's description).

// glueVersion changes whenever the generated glue changes meaning; it is
// part of the cache key with the runtime sources.
const glueVersion = "aot-glue-3"

// GlobalGet and GlobalSet prefix the names of the function exports through
// which an exported (i32, i64, f32 or f64) global is read and written:
// Call(GlobalGet+name) returns its bits, Call(GlobalSet+name, bits) sets it.
const (
	GlobalGet = "aot:global.get:"
	GlobalSet = "aot:global.set:"
)

var (
	accessorRE  = regexp.MustCompile(`(?m)^  static inline (.*) name(##_unchecked|##_default32|)\(`)
	memAllocRE  = regexp.MustCompile(`wasm_rt_allocate_memory\(&instance->(\w+), \d+, \d+, (\d), \d+\)`)
	commentRE   = regexp.MustCompile(`^/\* (import|export): '((?:[^'\\]|\\.)*)'(?: '((?:[^'\\]|\\.)*)')? \*/$`)
	protoRE     = regexp.MustCompile(`^(.*?)\s*\b(w2c_\w+)\((.*)\);$`)
	instRE      = regexp.MustCompile(`(?m)^void wasm2c_aot_instantiate\((.*)\);$`)
	offsetRE    = regexp.MustCompile(`(?m)^.*\(u64\)\(var_\w+\) \+ \d+u?\b.*$`)
	offsetAddRE = regexp.MustCompile(`\(u64\)\((var_\w+)\) \+ (\d+)u?\b`)
	memFieldRE  = regexp.MustCompile(`(?m)^  wasm_rt_memory_t (w2c_\w+);$`)
)

// patchC forces wasm2c's checked load/store helpers inline (GCC leaves them
// out of line in Lua's large functions: wasm64 Set/Get 1.75 ms instead of
// 0.72, docs/aot-tier.md) and puts the native stack check into every
// function's prologue. It fails when wasm2c's output no longer has the
// patterns.
func patchC(src []byte) ([]byte, error) {
	// wasm2c 1.0.39 adds a memory64 access's static offset to the address
	// without an overflow check (it wraps): check it (aot_addr_off traps OOB).
	// It writes a load's offset with a u suffix, a store's without one.
	if m := memAllocRE.FindSubmatch(src); m != nil && m[2][0] == '1' {
		src = offsetRE.ReplaceAllFunc(src, func(line []byte) []byte {
			if !bytes.Contains(line, []byte("(&instance->")) {
				return line
			}
			return offsetAddRE.ReplaceAll(line, []byte("aot_addr_off((u64)($1), ${2}u)"))
		})
	}
	out := accessorRE.ReplaceAll(src, []byte("  static inline __attribute__((always_inline)) ${1} name${2}("))
	if !bytes.Contains(out, []byte("always_inline)) t3 name##_unchecked(")) ||
		!bytes.Contains(out, []byte("always_inline)) return_type name##_default32(")) {
		return nil, fmt.Errorf("aot: wasm2c's memory accessors not found in its output (a wasm2c other than 1.0.39?)")
	}
	const prologue = "#else\n#define FUNC_PROLOGUE\n"
	if bytes.Count(out, []byte(prologue)) != 1 {
		return nil, fmt.Errorf("aot: wasm2c's FUNC_PROLOGUE not found in its output (a wasm2c other than 1.0.39?)")
	}
	out = bytes.Replace(out, []byte(prologue), []byte("#else\n#define FUNC_PROLOGUE AOT_STACK_CHECK(instance)\n"), 1)
	return out, nil
}

type cProto struct {
	ret    string
	name   string
	params []string // without the first (the instance or import struct)
	first  string
}

type hImport struct {
	module, name string
	proto        cProto
}

type hExport struct {
	name  string
	proto cProto
}

type header struct {
	imports  []hImport
	exports  []hExport
	structs  []string // import struct types in wasm2c_aot_instantiate's order
	memField string   // the instance's (first) memory, "" without one
}

func parseProto(line string) (cProto, bool) {
	m := protoRE.FindStringSubmatch(line)
	if m == nil {
		return cProto{}, false
	}
	p := cProto{ret: strings.TrimSpace(m[1]), name: m[2]}
	for i, a := range strings.Split(m[3], ",") {
		a = strings.TrimSpace(a)
		if i == 0 {
			p.first = a
			continue
		}
		p.params = append(p.params, a)
	}
	return p, true
}

func parseHeader(h string) (*header, error) {
	lines := strings.Split(h, "\n")
	hd := &header{}
	for i := 0; i+1 < len(lines); i++ {
		c := commentRE.FindStringSubmatch(lines[i])
		if c == nil {
			continue
		}
		p, ok := parseProto(lines[i+1])
		if !ok {
			return nil, fmt.Errorf("aot: cannot parse wasm2c's declaration %q", lines[i+1])
		}
		if c[1] == "import" {
			hd.imports = append(hd.imports, hImport{module: c[2], name: c[3], proto: p})
		} else {
			hd.exports = append(hd.exports, hExport{name: c[2], proto: p})
		}
	}
	m := instRE.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("aot: wasm2c_aot_instantiate not found in wasm2c's header")
	}
	for i, a := range strings.Split(m[1], ",") {
		if i > 0 {
			hd.structs = append(hd.structs, strings.TrimSuffix(strings.TrimSpace(a), "*"))
		}
	}
	if mm := memFieldRE.FindStringSubmatch(h); mm != nil {
		hd.memField = mm[1]
	}
	return hd, nil
}

// letter is the kind letter of a C value type of wasm2c's, "" for void, or
// ok false for one the tier does not support.
func letter(ctype string) (string, bool) {
	switch ctype {
	case "u32":
		return "i", true
	case "u64":
		return "j", true
	case "f32":
		return "f", true
	case "f64":
		return "d", true
	case "void":
		return "", true
	}
	return "", false
}

func sigOf(p cProto) (params, result string, ok bool) {
	for _, t := range p.params {
		l, ok := letter(t)
		if !ok || l == "" {
			return "", "", false
		}
		params += l
	}
	result, ok = letter(p.ret)
	return params, result, ok
}

// toBits converts the C expression x of kind l to its raw uint64_t bits.
func toBits(l, x string) string {
	switch l {
	case "i":
		return "(uint64_t)(u32)(" + x + ")"
	case "j":
		return "(uint64_t)(" + x + ")"
	case "f":
		return "(uint64_t)aot_f32_bits(" + x + ")"
	case "d":
		return "aot_f64_bits(" + x + ")"
	}
	panic("aot: kind " + l)
}

// fromBits converts raw bits x to a C value of kind l.
func fromBits(l, x string) string {
	switch l {
	case "i":
		return "(u32)(" + x + ")"
	case "j":
		return "(u64)(" + x + ")"
	case "f":
		return "aot_bits_f32((uint32_t)(" + x + "))"
	case "d":
		return "aot_bits_f64(" + x + ")"
	}
	panic("aot: kind " + l)
}

func cString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func wasmRtType(l string) string {
	return map[string]string{"i": "WASM_RT_I32", "j": "WASM_RT_I64", "f": "WASM_RT_F32", "d": "WASM_RT_F64"}[l]
}

// genGlue writes the glue C for a module from wasm2c's header and C, with
// the imports in the order of the wasm import section (wims).
func genGlue(h string, csrc []byte, wims []wasmImport) ([]byte, error) {
	hd, err := parseHeader(h)
	if err != nil {
		return nil, err
	}
	byName := map[[2]string]hImport{}
	for _, im := range hd.imports {
		byName[[2]string{im.module, im.name}] = im
	}
	var ordered []hImport
	for _, wi := range wims {
		if wi.kind != 0 {
			return nil, fmt.Errorf("aot: import %s.%s: only function imports are supported (kind %d)", wi.module, wi.name, wi.kind)
		}
		im, ok := byName[[2]string{wi.module, wi.name}]
		if !ok {
			return nil, fmt.Errorf("aot: import %s.%s not found in wasm2c's header (a name it escapes?)", wi.module, wi.name)
		}
		delete(byName, [2]string{wi.module, wi.name})
		ordered = append(ordered, im)
	}
	if len(ordered) != len(hd.imports) {
		return nil, fmt.Errorf("aot: %d imports in the wasm, %d in wasm2c's header (duplicate imports are not supported)", len(ordered), len(hd.imports))
	}
	hd.imports = ordered
	mem64 := -1
	if hd.memField != "" {
		for _, m := range memAllocRE.FindAllSubmatch(csrc, -1) {
			if string(m[1]) == hd.memField {
				mem64 = int(m[2][0] - '0')
			}
		}
		if mem64 < 0 {
			return nil, fmt.Errorf("aot: the allocation of memory %s not found in wasm2c's C", hd.memField)
		}
	}
	exports := map[string]cProto{}
	for _, e := range hd.exports {
		exports[e.name] = e.proto
	}

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`/* Generated by internal/aot (%s) from wasm2c's aot.h. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aot.h"
#include "aot-abi.h"

extern const aot_api* aot_rt_api;

static inline uint32_t aot_f32_bits(f32 x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline uint64_t aot_f64_bits(f64 x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline f32 aot_bits_f32(uint32_t u) { f32 x; memcpy(&x, &u, 4); return x; }
static inline f64 aot_bits_f64(uint64_t u) { f64 x; memcpy(&x, &u, 8); return x; }
static inline int aot_ft_eq(wasm_rt_func_type_t a, wasm_rt_func_type_t b) {
  return a == b || (a && b && !memcmp(a, b, 32));
}

`, glueVersion)
	for _, s := range hd.structs {
		w("%s {\n  uintptr_t ctx;\n  w2c_aot* inst;\n};\n", s)
	}
	w("\ntypedef struct {\n  aot_inst_header h;\n  w2c_aot inst;\n")
	for i, s := range hd.structs {
		w("  %s i%d;\n", s, i)
	}
	w("} aot_block;\n")
	w("_Static_assert(offsetof(aot_block, inst) == sizeof(aot_inst_header), \"the header precedes the instance\");\n")
	w("#define AOT_BLOCK(p) ((aot_block*)((char*)(p) - offsetof(aot_block, inst)))\n\n")

	// Imports.
	var initFT strings.Builder
	var importDescs []string
	for idx, im := range hd.imports {
		p := im.proto
		params, result, ok := sigOf(p)
		if !ok || !strings.HasPrefix(p.first, "struct ") {
			return nil, fmt.Errorf("aot: import %s.%s (%s): only functions of i32, i64, f32 and f64 are supported", im.module, im.name, p.ret)
		}
		builtin := 0
		decl := func() {
			w("%s %s(%s e", p.ret, p.name, p.first)
			for i, t := range p.params {
				w(", %s p%d", t, i)
			}
			w(") {\n")
		}
		switch {
		case im.module == "env" && im.name == "_emscripten_throw_longjmp" && params == "" && result == "":
			builtin = 1
			decl()
			w("  (void)e;\n  aot_rt_api->trap(AOT_TRAP_LONGJMP);\n}\n\n")
		case im.module == "env" && strings.HasPrefix(im.name, "invoke_") && len(params) >= 1:
			builtin = 1
			genInvoke(w, &initFT, idx, im, params, result, exports)
		default:
			decl()
			w("  uint64_t a[%d];\n", max(len(params), 1))
			for i := range params {
				w("  a[%d] = %s;\n", i, toBits(params[i:i+1], fmt.Sprintf("p%d", i)))
			}
			w("  uint64_t r = aot_rt_api->host_call(e->ctx, %d, a, %d);\n", idx, len(params))
			if result == "" {
				w("  (void)r;\n}\n\n")
			} else {
				w("  return %s;\n}\n\n", fromBits(result, "r"))
			}
		}
		importDescs = append(importDescs, fmt.Sprintf("  {%s, %s, %s, %d, %d, %d},\n",
			cString(im.module), cString(im.name), cString(params+result), len(params), len(result), builtin))
	}

	// Exports: functions of supported types only.
	var exportDescs []string
	for i, e := range hd.exports {
		p := e.proto
		if l, ok := letter(strings.TrimSuffix(p.ret, "*")); ok && l != "" && strings.HasSuffix(p.ret, "*") &&
			strings.HasPrefix(p.first, "w2c_aot*") && len(p.params) == 0 {
			// An exported global (wasm2c returns a pointer to it, mutable or
			// not): a getter and a setter, as two function exports
			// (GlobalGet, GlobalSet).
			w("static void aot_export_%d_get(void* p, const uint64_t* a, uint64_t* r) {\n  (void)a;\n  *r = %s;\n}\n",
				i, toBits(l, "*"+p.name+"((w2c_aot*)p)"))
			w("static void aot_export_%d_set(void* p, const uint64_t* a, uint64_t* r) {\n  (void)r;\n  *%s((w2c_aot*)p) = %s;\n}\n",
				i, p.name, fromBits(l, "a[0]"))
			exportDescs = append(exportDescs,
				fmt.Sprintf("  {%s, %s, 0, 1, aot_export_%d_get},\n", cString(GlobalGet+e.name), cString(l), i),
				fmt.Sprintf("  {%s, %s, 1, 0, aot_export_%d_set},\n", cString(GlobalSet+e.name), cString(l), i))
			continue
		}
		if p.first != "w2c_aot*" {
			continue // a memory, a table or an immutable global
		}
		params, result, ok := sigOf(p)
		if !ok {
			continue // multi-value, v128 or references: not callable here
		}
		w("static void aot_export_%d(void* p, const uint64_t* a, uint64_t* r) {\n  (void)a;\n  ", i)
		call := p.name + "((w2c_aot*)p"
		for j := range params {
			call += ", " + fromBits(params[j:j+1], fmt.Sprintf("a[%d]", j))
		}
		call += ")"
		if result == "" {
			w("(void)r;\n  %s;\n}\n", call)
		} else {
			w("*r = %s;\n}\n", toBits(result, call))
		}
		exportDescs = append(exportDescs, fmt.Sprintf("  {%s, %s, %d, %d, aot_export_%d},\n",
			cString(e.name), cString(params+result), len(params), len(result), i))
	}

	// The instance.
	w("\nstatic void* aot_alloc(uintptr_t ctx) {\n  aot_block* b = calloc(1, sizeof *b);\n  if (!b) return NULL;\n  b->h.ctx = ctx;\n")
	for i := range hd.structs {
		w("  b->i%d.ctx = ctx;\n  b->i%d.inst = &b->inst;\n", i, i)
	}
	w("  return &b->inst;\n}\n\n")
	w("static void aot_instantiate(void* p, const uint64_t* a, uint64_t* r) {\n  (void)a;\n  (void)r;\n  aot_block* b = AOT_BLOCK(p);\n  wasm2c_aot_instantiate(&b->inst")
	for i := range hd.structs {
		w(", &b->i%d", i)
	}
	w(");\n}\n\n")
	w("static void aot_free(void* p) {\n  aot_block* b = AOT_BLOCK(p);\n  wasm2c_aot_free(&b->inst);\n  free(b);\n}\n\n")
	if hd.memField != "" {
		w("static void* aot_memory(void* p) { return &((w2c_aot*)p)->%s; }\n", hd.memField)
		w("static uint64_t aot_grow(void* p, uint64_t pages) { return wasm_rt_grow_memory(&((w2c_aot*)p)->%s, pages); }\n\n", hd.memField)
	} else {
		w("static void* aot_memory(void* p) { (void)p; return NULL; }\n")
		w("static uint64_t aot_grow(void* p, uint64_t pages) { (void)p; (void)pages; return UINT64_MAX; }\n\n")
	}
	w("static const aot_import aot_imports[] = {\n%s  {0, 0, 0, 0, 0, 0}\n};\n", strings.Join(importDescs, ""))
	w("static const aot_export aot_exports[] = {\n%s  {0, 0, 0, 0, 0}\n};\n", strings.Join(exportDescs, ""))
	w(`static const aot_module aot_desc = {
  AOT_ABI_VERSION, %d, %d, aot_imports, %d, aot_exports,
  aot_alloc, aot_instantiate, aot_free, aot_memory, aot_grow,
};

__attribute__((visibility("default"))) const aot_module* aot_init(const aot_api* api) {
  if (api->abi != AOT_ABI_VERSION) return NULL;
  aot_rt_api = api;
%s  return &aot_desc;
}
`, mem64, len(importDescs), len(exportDescs), initFT.String())
	return []byte(b.String()), nil
}

// genInvoke writes an emscripten invoke_<sig> import: call dynCall_<sig>
// (or else the exported table's entry, type-checked) with the stack pointer
// saved; a longjmp out of it (_emscripten_throw_longjmp) restores the stack
// pointer and calls setThrew(1, 0); any other trap goes on to the next jump
// target.
func genInvoke(w func(string, ...any), initFT *strings.Builder, idx int, im hImport, params, result string, exports map[string]cProto) {
	p := im.proto
	find := func(names ...string) (cProto, bool) {
		for _, n := range names {
			if e, ok := exports[n]; ok && e.first == "w2c_aot*" {
				return e, true
			}
		}
		return cProto{}, false
	}
	save, hasSave := find("emscripten_stack_get_current", "stackSave")
	restore, hasRestore := find("_emscripten_stack_restore", "stackRestore")
	setThrew, hasThrew := find("setThrew")
	dyn, hasDyn := find("dynCall_" + strings.TrimPrefix(im.name, "invoke_"))
	if hasDyn && len(dyn.params) != len(p.params) {
		hasDyn = false
	}
	table, hasTable := exports["__indirect_function_table"]
	hasTable = hasTable && table.ret == "wasm_rt_funcref_table_t*"

	ft := fmt.Sprintf("aot_ft_%d", idx)
	if !hasDyn && hasTable {
		// The callee's type, looked up once at load time.
		w("static wasm_rt_func_type_t %s;\n", ft)
		fmt.Fprintf(initFT, "  %s = wasm2c_aot_get_func_type(%d, %d", ft, len(params)-1, len(result))
		for _, l := range params[1:] + result {
			fmt.Fprintf(initFT, ", %s", wasmRtType(string(l)))
		}
		initFT.WriteString(");\n")
	}
	w("%s %s(%s e", p.ret, p.name, p.first)
	for i, t := range p.params {
		w(", %s p%d", t, i)
	}
	w(") {\n  w2c_aot* m = e->inst;\n")
	if hasSave && hasRestore {
		w("  %s sp = %s(m);\n", save.ret, save.name)
	}
	ret := "return;"
	rset := ""
	if result != "" {
		w("  %s r;\n", p.ret)
		ret, rset = "return r;", "r = "
	}
	w("  aot_frame f;\n  f.invoke = 1;\n  if (sigsetjmp(f.jb, 0) == 0) {\n    aot_rt_api->push(&f);\n")
	switch {
	case hasDyn:
		args := ""
		for i := 1; i < len(p.params); i++ {
			args += fmt.Sprintf(", (%s)p%d", dyn.params[i], i)
		}
		w("    %s%s(m, (%s)p0%s);\n", rset, dyn.name, dyn.params[0], args)
	case hasTable:
		w("    wasm_rt_funcref_table_t* t = %s(m);\n", table.name)
		w("    u64 i = (u64)p0;\n")
		w("    if (i >= t->size || !t->data[i].func || !aot_ft_eq(t->data[i].func_type, %s)) wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT);\n", ft)
		types := ""
		args := ""
		for i := 1; i < len(p.params); i++ {
			types += ", " + p.params[i]
			args += fmt.Sprintf(", p%d", i)
		}
		w("    %s((%s (*)(void*%s))t->data[i].func)(t->data[i].module_instance%s);\n", rset, p.ret, types, args)
	default:
		w("    wasm_rt_trap(WASM_RT_TRAP_CALL_INDIRECT); /* neither dynCall_ nor the table exported */\n")
	}
	w("    aot_rt_api->pop(&f);\n    %s\n  }\n", ret)
	w("  if (f.code != AOT_TRAP_LONGJMP) aot_rt_api->trap(f.code);\n")
	if hasSave && hasRestore {
		w("  %s(m, sp);\n", restore.name)
	}
	if hasThrew && len(setThrew.params) == 2 {
		w("  %s(m, 1, 0);\n", setThrew.name)
	}
	if result != "" {
		w("  return 0;\n")
	}
	w("}\n\n")
}
