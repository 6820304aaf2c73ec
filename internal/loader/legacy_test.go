package loader

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// Tests of the legacy glue tables (legacy.go). The table tests always run; the
// fixture tests need the old test modules of github.com/permaweb/ao extracted
// into $AOCU_LEGACY_FIXTURES (layout and recipe in docs/legacy-formats.md).

// legacyFixtureDirs maps the fixture sub-directories to their format.
var legacyFixtureDirs = map[string]Format{
	"emscripten":         FormatEmscripten,
	"emscripten2":        FormatEmscripten2,
	"emscripten2_sqlite": FormatEmscripten2,
	"emscripten3":        FormatEmscripten3,
}

var legacyFormats = []Format{FormatEmscripten, FormatEmscripten2, FormatEmscripten3}

func legacyFixtureDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AOCU_LEGACY_FIXTURES")
	if dir == "" {
		t.Skip("AOCU_LEGACY_FIXTURES is not set: it must name a directory holding the old permaweb/ao test modules " +
			"(emscripten/, emscripten2/, emscripten2_sqlite/, emscripten3/; see docs/legacy-formats.md)")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("AOCU_LEGACY_FIXTURES=%s: %v", dir, err)
	}
	return dir
}

// modernHostNames are the import names host.go implements.
func modernHostNames() map[string]bool {
	names := map[string]bool{}
	for n := range referenceImports {
		names[n] = true
	}
	for n := range (&instance{}).hostFuncs() {
		names[n] = true
	}
	return names
}

func TestLegacyCanonicalImportsAreImplementedOrLegacyOnly(t *testing.T) {
	modern := modernHostNames()
	used := map[string]bool{}
	for _, f := range legacyFormats {
		g := legacyGlues[f]
		for field, imp := range g.imports {
			used[imp.canonical] = true
			_, legacyOnly := legacyOnlyImports[imp.canonical]
			switch {
			case strings.HasPrefix(imp.canonical, "invoke_"):
				if imp.canonical != imp.js {
					t.Errorf("%s: %s maps to %s but the glue's function is %s", f, field, imp.canonical, imp.js)
				}
			case strings.HasPrefix(imp.canonical, "legacy_"):
				if !legacyOnly {
					t.Errorf("%s: %s maps to %s, which legacyOnlyImports does not describe", f, field, imp.canonical)
				}
			case !modern[imp.canonical]:
				t.Errorf("%s: %s maps to %s, which host.go does not implement", f, field, imp.canonical)
			}
			if imp.js == "" || imp.line < g.lines[0] || imp.line > g.lines[1] {
				t.Errorf("%s: %s: JS function %q at line %d is outside the glue (%v)", f, field, imp.js, imp.line, g.lines)
			}
		}
		if !g.usegas {
			t.Errorf("%s: every legacy glue provides metering.usegas", f)
		}
	}
	h := &instance{}
	impl := h.legacyHostFuncs(h.hostFuncs())
	for name := range impl {
		if _, ok := legacyOnlyImports[name]; !ok {
			t.Errorf("legacyHostFuncs implements %q, which legacyOnlyImports does not describe", name)
		}
	}
	for name, d := range legacyOnlyImports {
		if impl[name] == nil {
			t.Errorf("legacy-only import %q is not implemented by legacyHostFuncs", name)
		}
		if !strings.HasPrefix(name, "legacy_") {
			t.Errorf("legacy-only import %q must start with legacy_", name)
		}
		if modern[name] {
			t.Errorf("legacy-only import %q collides with a host.go name", name)
		}
		if !used[name] {
			t.Errorf("legacy-only import %q is used by no glue", name)
		}
		if d.doc == "" {
			t.Errorf("legacy-only import %q is undocumented", name)
		}
	}
}

func TestLegacyImportName(t *testing.T) {
	cases := []struct {
		f             Format
		module, field string
		want          string
		ok            bool
	}{
		{FormatEmscripten, "a", "a", "legacy_date_now_zero", true},
		{FormatEmscripten, "a", "k", "_emscripten_memcpy_js", true},
		{FormatEmscripten, "a", "x", "invoke_vii", true},
		{FormatEmscripten, "a", "E", "", false}, // not in the glue: LinkError in the reference
		{FormatEmscripten, "env", "a", "", false},
		{FormatEmscripten, "metering", "usegas", "usegas", true},
		{FormatEmscripten2, "env", "emscripten_memcpy_big", "_emscripten_memcpy_js", true},
		{FormatEmscripten2, "wasi_snapshot_preview1", "emscripten_memcpy_big", "_emscripten_memcpy_js", true},
		{FormatEmscripten2, "wasi_snapshot_preview1", "fd_write", "fd_write", true},
		{FormatEmscripten2, "env", "_emscripten_date_now", "legacy_date_now_zero", true},
		{FormatEmscripten2, "env", "emscripten_get_now", "legacy_get_now_nan", true},
		{FormatEmscripten2, "env", "invoke_vjj", "", false},
		{FormatEmscripten2, "metering", "usegas", "usegas", true},
		{FormatEmscripten2, "metering", "gasUsed", "", false},
		{FormatEmscripten3, "env", "emscripten_memcpy_js", "_emscripten_memcpy_js", true},
		{FormatEmscripten3, "env", "emscripten_date_now", "emscripten_date_now", true},
		{FormatEmscripten3, "env", "abort", "_abort_js", true},
		{FormatEmscripten3, "env", "__assert_fail", "", false}, // emscripten3.cjs has none
		{FormatEmscripten3, "env", "getTempRet0", "", false},
		{FormatEmscripten3, "a", "a", "", false},
		{FormatEmscripten4, "env", "fd_write", "", false}, // not a legacy format
		{FormatWasm64, "metering", "usegas", "", false},
	}
	for _, c := range cases {
		got, ok := legacyImportName(c.f, c.module, c.field)
		if got != c.want || ok != c.ok {
			t.Errorf("legacyImportName(%s, %s, %s) = %q, %v; want %q, %v", c.f, c.module, c.field, got, ok, c.want, c.ok)
		}
	}
}

func TestLegacyExportName(t *testing.T) {
	cases := []struct {
		f               Format
		canonical, want string
	}{
		{FormatEmscripten, "memory", "E"},
		{FormatEmscripten, "handle", "G"},
		{FormatEmscripten, "_emscripten_stack_alloc", "O"},
		{FormatEmscripten, "emscripten_stack_get_current", "M"},
		{FormatEmscripten, "free", ""},
		{FormatEmscripten, "emscripten_stack_get_end", ""},
		{FormatEmscripten2, "_emscripten_stack_alloc", "stackAlloc"},
		{FormatEmscripten2, "_emscripten_stack_restore", "stackRestore"},
		{FormatEmscripten2, "emscripten_stack_get_current", "stackSave"},
		{FormatEmscripten2, "handle", "handle"},
		{FormatEmscripten2, "dynCall_jiji", "dynCall_jiji"}, // not listed: unchanged
		{FormatEmscripten3, "_emscripten_tempret_set", "setTempRet0"},
		{FormatEmscripten3, "malloc", ""},
		{FormatEmscripten4, "_emscripten_stack_alloc", "_emscripten_stack_alloc"},
		{FormatWasm64, "handle", "handle"},
	}
	for _, c := range cases {
		if got := legacyExportName(c.f, c.canonical); got != c.want {
			t.Errorf("legacyExportName(%s, %s) = %q, want %q", c.f, c.canonical, got, c.want)
		}
	}
	// The canonical names are those the modern host looks up (module.go/instance.go).
	canonical := map[string]bool{"main": true, "__errno_location": true, "fflush": true, "_emscripten_tempret_set": true}
	for _, n := range requiredExports {
		canonical[n] = true
	}
	for _, n := range []string{"setThrew", "free"} {
		canonical[n] = true
	}
	for _, f := range legacyFormats {
		g := legacyGlues[f]
		for c := range g.exports {
			if !canonical[c] {
				t.Errorf("%s: export table key %q is not a name the host uses", f, c)
			}
		}
		for _, r := range g.required {
			if g.exports[r] == "" {
				t.Errorf("%s: required export %q has no name", f, r)
			}
		}
		seen := map[string]string{}
		for c, n := range g.exports {
			if n == "" {
				continue
			}
			if o, dup := seen[n]; dup {
				t.Errorf("%s: %q plays both %s and %s", f, n, o, c)
			}
			seen[n] = c
		}
	}
}

func TestLegacyAgreesWithFormatSpec(t *testing.T) {
	for _, f := range legacyFormats {
		spec, err := f.spec()
		if err != nil {
			t.Fatal(err)
		}
		g := legacyGlues[f]
		if spec.heapMax != g.heapMax {
			t.Errorf("%s: format.go heapMax %d, glue getHeapMax() %d", f, spec.heapMax, g.heapMax)
		}
		if spec.async {
			t.Errorf("%s: the old glues have no Asyncify", f)
		}
		if !isLegacyFormat(f) {
			t.Errorf("isLegacyFormat(%s) = false", f)
		}
	}
	for _, f := range []Format{FormatEmscripten4, FormatWasm32Metering, FormatWasm64, FormatWasm64Metering} {
		if isLegacyFormat(f) {
			t.Errorf("isLegacyFormat(%s) = true", f)
		}
	}
}

func TestLegacyStringSlot(t *testing.T) {
	cases := []struct {
		f    Format
		s    string
		want uint64
	}{
		{FormatEmscripten, `{"a":1}`, 7<<2 + 1},
		{FormatEmscripten2, "é", 1<<2 + 1},  // 2 UTF-8 bytes, 1 UTF-16 unit
		{FormatEmscripten2, "😀", 2<<2 + 1},  // 4 UTF-8 bytes, 2 UTF-16 units
		{FormatEmscripten3, "😀", 4 + 1},     // lengthBytesUTF8 + 1
		{FormatEmscripten3, "", 1},          //
		{FormatEmscripten4, "é", 2 + 1},     // modern
		{FormatEmscripten, "", 1},           // (0 << 2) + 1
		{FormatEmscripten, "a€😀", 4<<2 + 1}, // 1 + 1 + 2 units
	}
	for _, c := range cases {
		if got := legacyStringSlot(c.f, []byte(c.s)); got != c.want {
			t.Errorf("legacyStringSlot(%s, %q) = %d, want %d", c.f, c.s, got, c.want)
		}
	}
}

func TestEnvironStrings(t *testing.T) {
	env := environStrings(nodeEvalThisProgram)
	want := []string{"USER=web_user", "LOGNAME=web_user", "PATH=/", "PWD=/", "HOME=/home/web_user", "LANG=C.UTF-8", "_=./this.program"}
	if !reflect.DeepEqual(env, want) {
		t.Fatalf("environ %q, want %q", env, want)
	}
	size := 0
	for _, s := range env {
		size += len(s) + 1
	}
	if size != 94 {
		t.Errorf("environ buffer size %d, want 94", size)
	}
	if got := engine(t).ThisProgram(); got != nodeEvalThisProgram {
		t.Errorf("test engine thisProgram %q", got)
	}
}

func TestLegacyInitAndClock(t *testing.T) {
	want := map[Format][]legacyInitStep{
		FormatEmscripten:  {legacyInitCtors, legacyInitMain},
		FormatEmscripten2: {legacyInitStackInit, legacyInitStackCookie, legacyInitCtors, legacyInitMainArgv, legacyInitFflush},
		FormatEmscripten3: {legacyInitStackInit, legacyInitStackCookieFixZero, legacyInitCtors, legacyInitMain, legacyInitFflush},
	}
	for f, w := range want {
		g := legacyGlues[f]
		if !reflect.DeepEqual(g.init, w) {
			t.Errorf("%s: init %v, want %v", f, g.init, w)
		}
		// Every export an init step calls must be bound.
		for _, st := range g.init {
			var need []string
			switch st {
			case legacyInitStackInit:
				need = []string{"emscripten_stack_init"}
			case legacyInitStackCookie, legacyInitStackCookieFixZero:
				need = []string{"emscripten_stack_get_end"}
			case legacyInitCtors:
				need = []string{"__wasm_call_ctors"}
			case legacyInitMain:
				need = []string{"main"}
			case legacyInitMainArgv:
				need = []string{"main", "_emscripten_stack_alloc"}
			case legacyInitFflush:
				need = []string{"fflush"}
			}
			for _, n := range need {
				if g.exports[n] == "" {
					t.Errorf("%s: init step %d needs export %s", f, st, n)
				}
			}
		}
	}
	if c := legacyGlues[FormatEmscripten3].clock; c.dateNow != legacyClockCounter || c.getNow != legacyClockCounter || c.first != 10003 {
		t.Errorf("emscripten3 clock %+v", c)
	}
	if c := legacyGlues[FormatEmscripten2].clock; c.dateNow != legacyClockZero || c.getNow != legacyClockNaN {
		t.Errorf("emscripten2 clock %+v", c)
	}
	if c := legacyGlues[FormatEmscripten].clock; c.dateNow != legacyClockZero || c.getNow != legacyClockNone {
		t.Errorf("emscripten clock %+v", c)
	}
	// Imports that need exports the glue does not bind would be unimplementable.
	needs := map[string]string{
		"legacy_tzset_js_malloc": "malloc", "legacy_system_errno": "__errno_location",
		"legacy_fcntl64_em2": "__errno_location", "invoke_vii": "setThrew", "_mktime_js": "_emscripten_tempret_set",
		"exit": "", // fflush is optional (checkUnflushedContent swallows errors)
	}
	for _, f := range legacyFormats {
		g := legacyGlues[f]
		for field, imp := range g.imports {
			if n := needs[imp.canonical]; n != "" && g.exports[n] == "" {
				t.Errorf("%s: import %s (%s) needs export %s, which the table does not bind", f, field, imp.canonical, n)
			}
		}
	}
}

// legacyImportField returns a field under which glue g provides the host
// function canonical.
func legacyImportField(t *testing.T, g legacyGlue, canonical string) string {
	t.Helper()
	for field, imp := range g.imports {
		if imp.canonical == canonical {
			return field
		}
	}
	t.Fatalf("%s: no import provides %s", g.source, canonical)
	return ""
}

// TestLegacyInitSequence runs a small module through each old format's init
// sequence (always, no fixtures needed): the import and export names come from
// the glue tables, so em1's minified names are exercised too. It checks the
// environ written by the constructors, main's arguments (em2's argv on the
// stack), the stack cookie, fflush after main, and that gas spent while
// loading counts against the process's limit but not towards GasUsed, and that
// main running out of gas is ignored, as the reference does.
func TestLegacyInitSequence(t *testing.T) {
	for _, f := range legacyFormats {
		for _, gasLimit := range []float64{0, 500} { // main uses 1000 gas
			f, gasLimit := f, gasLimit
			t.Run(fmt.Sprintf("%s/limit=%v", f, gasLimit), func(t *testing.T) {
				g := legacyGlues[f]
				ex := func(c string) string { return legacyExportName(f, c) }
				wat := fmt.Sprintf(`(module
  (import %[1]q %[2]q (func $sizes (param i32 i32) (result i32)))
  (import %[1]q %[3]q (func $environ (param i32 i32) (result i32)))
  (import "metering" "usegas" (func $gas (param i32)))
  (memory (export %[4]q) 2)
  (table (export %[5]q) 1 funcref)
  (global $sp (mut i32) (i32.const 65536))
  (data (i32.const 4096) "{\"ok\":true,\"response\":{\"Output\":\"hi\"}}\00")
  (func (export %[6]q) (result i32) (global.get $sp))
  (func (export %[7]q) (param i32) (global.set $sp (local.get 0)))
  (func (export %[8]q) (param i32) (result i32)
    (global.set $sp (i32.and (i32.sub (global.get $sp) (local.get 0)) (i32.const -16)))
    (global.get $sp))
  (func (export %[9]q)
    (drop (call $sizes (i32.const 100) (i32.const 104)))
    (drop (call $environ (i32.const 200) (i32.const 300))))
  (func (export %[10]q) (param i32 i32) (result i32)
    (i32.store (i32.const 120) (local.get 0))
    (i32.store (i32.const 124) (local.get 1))
    (call $gas (i32.const 1000))
    (i32.const 0))
  (func (export %[11]q) (param i32 i32) (result i32) (call $gas (i32.const 7)) (i32.const 4096))
  %[12]s)`, g.modules[0], legacyImportField(t, g, "legacy_environ_sizes_get"), legacyImportField(t, g, "legacy_environ_get"),
					ex("memory"), ex("__indirect_function_table"), ex("emscripten_stack_get_current"),
					ex("_emscripten_stack_restore"), ex("_emscripten_stack_alloc"), ex("__wasm_call_ctors"), ex("main"), ex("handle"),
					legacyOptionalExports(f))
				wasm, err := wasmtime.Wat2Wasm(wat)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				m, _, err := engine(t).Compile(ctx, wasm, f)
				if err != nil {
					t.Fatal(err)
				}
				p, err := m.NewProcess(ctx, ProcessOptions{GasLimit: gasLimit})
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				r, err := p.Handle(ctx, []byte(`{}`), []byte(`{}`))
				if err != nil || string(r.Output) != `"hi"` || r.GasUsed != 7 {
					t.Fatalf("handle: %v %+v", err, r)
				}
				d := p.Memory()
				u32 := func(p uint32) uint32 { return binary.LittleEndian.Uint32(d[p:]) }
				env := environStrings(nodeEvalThisProgram)
				if u32(100) != uint32(len(env)) || u32(104) != 94 {
					t.Errorf("environ_sizes_get wrote %d, %d", u32(100), u32(104))
				}
				for i, s := range env {
					if got := cstring(d, uint64(u32(200+4*uint32(i)))); got != s {
						t.Errorf("environ[%d] = %q, want %q", i, got, s)
					}
				}
				argc, argv := u32(120), u32(124)
				has := func(st legacyInitStep) bool { return slices.Contains(g.init, st) }
				switch {
				case has(legacyInitMainArgv):
					if argc != 1 || cstring(d, uint64(u32(argv))) != nodeEvalThisProgram || u32(argv+4) != 0 {
						t.Errorf("main(%d, %d): argv is not {%q, NULL}", argc, argv, nodeEvalThisProgram)
					}
				case argc != 0 || argv != 0:
					t.Errorf("main(%d, %d), want main(0, 0)", argc, argv)
				}
				flushed := uint32(0)
				if has(legacyInitFflush) && gasLimit == 0 { // out of gas in main skips the implicit exit
					flushed = 1
				}
				if got := u32(128); got != flushed {
					t.Errorf("fflush called %d times, want %d", got, flushed)
				}
				cookie := has(legacyInitStackCookie) || has(legacyInitStackCookieFixZero)
				if got := string(d[:4]) == "emsc" && u32(1024) == 0x02135467 && u32(1028) == 0x89BACDFE; got != cookie {
					t.Errorf("stack cookie written: %v, want %v", got, cookie)
				}
			})
		}
	}
}

// legacyOptionalExports are the WAT exports the glue of f calls beyond the
// ones every glue needs: emscripten_stack_init, emscripten_stack_get_end (1024)
// and fflush (counts its calls at address 128).
func legacyOptionalExports(f Format) string {
	var b strings.Builder
	for _, e := range []struct{ canonical, body string }{
		{"emscripten_stack_init", ""},
		{"emscripten_stack_get_end", "(result i32) (i32.const 1024)"},
		{"fflush", "(param i32) (result i32) (i32.store (i32.const 128) (i32.add (i32.load (i32.const 128)) (i32.const 1))) (i32.const 0)"},
	} {
		if n := legacyExportName(f, e.canonical); n != "" {
			fmt.Fprintf(&b, "(func (export %q) %s)\n", n, e.body)
		}
	}
	return b.String()
}

// legacyDist is the reference loader's bundle, when tools/refloader is installed.
func legacyDist(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(repoPath("tools", "refloader", "node_modules", "@permaweb", "ao-loader", "dist", "index.cjs"))
	if err != nil {
		t.Skipf("reference loader not installed (tools/refloader): %v", err)
	}
	return strings.Split(string(b), "\n")
}

var (
	legacyTablePair  = regexp.MustCompile(`"?([A-Za-z_$][\w$]*)"?\s*:\s*([A-Za-z_$][\w$]*)`)
	legacyTableShort = regexp.MustCompile(`^\s*([A-Za-z_$][\w$]*),?\s*$`)
)

// TestLegacyTablesMatchDist checks the tables against the glue sources: the
// import table keys and functions, and every cited line.
func TestLegacyTablesMatchDist(t *testing.T) {
	lines := legacyDist(t)
	line := func(n int) string {
		if n < 1 || n > len(lines) {
			return ""
		}
		return lines[n-1]
	}
	for _, f := range legacyFormats {
		g := legacyGlues[f]
		if !strings.Contains(line(g.lines[0]), `"`+g.source+`"`) {
			t.Errorf("%s: line %d is not the start of %s: %q", f, g.lines[0], g.source, line(g.lines[0]))
		}
		if !strings.Contains(line(g.lines[1]+3), "src/formats/") && !strings.Contains(line(g.lines[1]+2), "src/formats/") {
			t.Errorf("%s: the glue does not end at line %d", f, g.lines[1])
		}
		// Parse the import table.
		got := map[string]string{}
		start := line(g.tableLine)
		if !strings.Contains(start, "asmLibraryArg = {") && !strings.Contains(start, "wasmImports = {") {
			t.Fatalf("%s: line %d is not the import table: %q", f, g.tableLine, start)
		}
		for n := g.tableLine; n <= g.lines[1]; n++ {
			l := line(n)
			if n == g.tableLine {
				l = l[strings.Index(l, "{")+1:]
			}
			end := strings.Contains(l, "};")
			if end {
				l = l[:strings.Index(l, "};")]
			}
			if strings.Contains(l, "/**") {
				l = ""
			}
			for _, m := range legacyTablePair.FindAllStringSubmatch(l, -1) {
				got[m[1]] = m[2]
			}
			if m := legacyTableShort.FindStringSubmatch(l); m != nil {
				got[m[1]] = m[1]
			}
			if end {
				break
			}
		}
		t.Logf("%s: %d imports in the dist table (line %d)", f, len(got), g.tableLine)
		if len(got) != len(g.imports) {
			t.Errorf("%s: the dist table has %d imports, legacy.go %d", f, len(got), len(g.imports))
		}
		for field, js := range got {
			imp, ok := g.imports[field]
			if !ok {
				t.Errorf("%s: import %s (%s) missing from legacy.go", f, field, js)
				continue
			}
			if imp.js != js {
				t.Errorf("%s: import %s is %s in the dist, %s in legacy.go", f, field, js, imp.js)
			}
		}
		for field, imp := range g.imports {
			l := line(imp.line)
			re := regexp.MustCompile(`(function |var |^\s*)` + regexp.QuoteMeta(imp.js) + `(\(| =|;)`)
			if !re.MatchString(l) {
				t.Errorf("%s: %s: line %d does not define %s: %q", f, field, imp.line, imp.js, strings.TrimSpace(l))
			}
		}
		if l := line(g.growthLine); !strings.Contains(l, "_emscripten_resize_heap(requestedSize)") {
			t.Errorf("%s: line %d is not _emscripten_resize_heap: %q", f, g.growthLine, l)
		}
		// getHeapMax() value.
		found := false
		for n := g.lines[0]; n <= g.lines[1]; n++ {
			l := line(n)
			if strings.Contains(l, "getHeapMax") && (strings.Contains(l, "=>") || strings.Contains(l, "function getHeapMax")) {
				body := l + line(n+1)
				if strings.Contains(body, fmt.Sprint(g.heapMax)) || (g.heapMax == 524288000 && strings.Contains(body, "524288e3")) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: getHeapMax() %d not found in the glue", f, g.heapMax)
		}
	}
}

// wasmInterface is the part of a module's interface the fixture tests check.
type wasmInterface struct {
	imports []wasmImport
	exports map[string]byte // name -> kind (0 func, 1 table, 2 memory, 3 global)
}

type wasmImport struct {
	module, name string
	kind         byte
	sig          string // "(i32,i32)->(i32)" for functions
}

// parseWasmInterface reads the type, import and export sections.
func parseWasmInterface(b []byte) (*wasmInterface, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" || binary.LittleEndian.Uint32(b[4:]) != 1 {
		return nil, errors.New("not a wasm 1 binary")
	}
	p := 8
	fail := errors.New("truncated")
	u := func() (uint32, error) {
		var r uint32
		for s := 0; ; s += 7 {
			if p >= len(b) || s > 28 {
				return 0, fail
			}
			c := b[p]
			p++
			r |= uint32(c&0x7f) << s
			if c&0x80 == 0 {
				return r, nil
			}
		}
	}
	name := func() (string, error) {
		n, err := u()
		if err != nil || p+int(n) > len(b) {
			return "", fail
		}
		s := string(b[p : p+int(n)])
		p += int(n)
		return s, nil
	}
	vt := map[byte]string{0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128", 0x70: "funcref", 0x6f: "externref"}
	limits := func() error {
		fl, err := u()
		if err != nil {
			return err
		}
		if _, err := u(); err != nil {
			return err
		}
		if fl&1 != 0 {
			_, err = u()
		}
		return err
	}
	var types []string
	wi := &wasmInterface{exports: map[string]byte{}}
	for p < len(b) {
		id := b[p]
		p++
		size, err := u()
		if err != nil || p+int(size) > len(b) {
			return nil, fail
		}
		end := p + int(size)
		switch id {
		case 1:
			n, _ := u()
			for i := uint32(0); i < n; i++ {
				p++ // 0x60
				var ps, rs []string
				np, _ := u()
				for j := uint32(0); j < np; j++ {
					ps = append(ps, vt[b[p]])
					p++
				}
				nr, _ := u()
				for j := uint32(0); j < nr; j++ {
					rs = append(rs, vt[b[p]])
					p++
				}
				types = append(types, "("+strings.Join(ps, ",")+")->("+strings.Join(rs, ",")+")")
			}
		case 2:
			n, _ := u()
			for i := uint32(0); i < n; i++ {
				m, err := name()
				if err != nil {
					return nil, err
				}
				f, err := name()
				if err != nil {
					return nil, err
				}
				im := wasmImport{module: m, name: f, kind: b[p]}
				p++
				switch im.kind {
				case 0:
					ti, _ := u()
					if int(ti) >= len(types) {
						return nil, fail
					}
					im.sig = types[ti]
				case 1:
					p++
					if err := limits(); err != nil {
						return nil, err
					}
				case 2:
					if err := limits(); err != nil {
						return nil, err
					}
				case 3:
					p += 2
				}
				wi.imports = append(wi.imports, im)
			}
		case 7:
			n, _ := u()
			for i := uint32(0); i < n; i++ {
				nm, err := name()
				if err != nil {
					return nil, err
				}
				wi.exports[nm] = b[p]
				p++
				if _, err := u(); err != nil {
					return nil, err
				}
			}
		}
		p = end
	}
	return wi, nil
}

// legacyExportKinds: the kind each canonical export must have.
var legacyExportKinds = map[string]byte{"memory": 2, "__indirect_function_table": 1}

// TestLegacyFixtureImports checks every fixture module against its glue table:
// each import resolves to a known host function (with the signature the
// legacy-only functions expect) and every export the glue needs is there.
func TestLegacyFixtureImports(t *testing.T) {
	dir := legacyFixtureDir(t)
	n := 0
	for sub, f := range legacyFixtureDirs {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*.wasm"))
		for _, file := range files {
			n++
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wi, err := parseWasmInterface(b)
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			g := legacyGlues[f]
			for _, im := range wi.imports {
				if im.kind != 0 {
					t.Errorf("%s (%s): import %s.%s is not a function; the glue provides functions only", file, f, im.module, im.name)
					continue
				}
				c, ok := legacyImportName(f, im.module, im.name)
				if !ok {
					t.Errorf("%s (%s): import %s.%s has no host function in the glue", file, f, im.module, im.name)
					continue
				}
				if lo, ok := legacyOnlyImports[c]; ok && lo.sig != "" && lo.sig != im.sig {
					t.Errorf("%s (%s): import %s.%s %s maps to %s, which expects %s", file, f, im.module, im.name, im.sig, c, lo.sig)
				}
			}
			for _, c := range g.required {
				name := legacyExportName(f, c)
				k, ok := wi.exports[name]
				if !ok {
					t.Errorf("%s (%s): missing export %q (%s)", file, f, name, c)
					continue
				}
				if want := legacyExportKinds[c]; k != want {
					t.Errorf("%s (%s): export %q (%s) has kind %d, want %d", file, f, name, c, k, want)
				}
			}
			for c, name := range g.exports {
				if name == "" {
					continue
				}
				if _, ok := wi.exports[name]; !ok {
					t.Logf("%s (%s): optional export %q (%s) absent", file, f, name, c)
				}
			}
		}
	}
	t.Logf("checked %d fixture modules", n)
	if n == 0 {
		t.Fatalf("no *.wasm under %s/{%s}", dir, strings.Join(sortedKeys(legacyFixtureDirs), ","))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// legacyStep is one handle() of the reference loader (TZ=UTC, node 20, run as
// `node -e` so thisProgram is "./this.program"); see docs/legacy-formats.md.
type legacyStep struct {
	msg, env                                     string
	output, messages, spawns, assignments, error string // JSON of the result field; "" = absent
	gasUsed                                      float64
	memoryLength                                 int
	memorySHA256                                 string
}

type legacyCase struct {
	file                   string
	format                 Format
	wasmSHA256             string
	gasLimit               float64
	memoryNondeterministic bool // the reference reads /dev/urandom (crypto.randomBytes)
	steps                  []legacyStep
}

// TestLegacyFixtureResults runs the fixtures through the Go host and compares
// with the reference loader. It is the acceptance test of the legacy wiring:
// until module.go accepts the legacy formats it skips.
func TestLegacyFixtureResults(t *testing.T) {
	dir := legacyFixtureDir(t)
	ctx := context.Background()
	for _, c := range legacyCases {
		c := c
		t.Run(c.file, func(t *testing.T) {
			wasm, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if s := sha256.Sum256(wasm); hex.EncodeToString(s[:]) != c.wasmSHA256 {
				t.Fatalf("%s is not the fixture the expected values were made with", c.file)
			}
			m, _, err := engine(t).Compile(ctx, wasm, c.format)
			if err != nil {
				t.Fatal(err)
			}
			hashes := legacyRun(t, m, c)
			if c.memoryNondeterministic {
				// The reference's memory differs from run to run (sqlite reads
				// its /dev/urandom, crypto.randomBytes; aocu's openat answers
				// ENOENT, so sqlite falls back to its time/pid seed, fixed here):
				// only Output, GasUsed and the memory length compare with it.
				// aocu itself must be deterministic: a second run gives the
				// same memory after every step.
				if again := legacyRun(t, m, c); !reflect.DeepEqual(hashes, again) {
					t.Errorf("memory differs between two runs: %v, %v", hashes, again)
				}
			}
		})
	}
}

// legacyRun runs the steps of a case on a new process of m, checks each
// result against the reference and returns the memory hash after each step.
func legacyRun(t *testing.T, m *Module, c legacyCase) (hashes []string) {
	t.Helper()
	ctx := context.Background()
	p, err := m.NewProcess(ctx, ProcessOptions{GasLimit: c.gasLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, st := range c.steps {
		r, err := p.Handle(ctx, []byte(st.msg), []byte(st.env))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, f := range []struct {
			name string
			got  json.RawMessage
			want string
		}{{"Output", r.Output, st.output}, {"Messages", r.Messages, st.messages}, {"Spawns", r.Spawns, st.spawns},
			{"Assignments", r.Assignments, st.assignments}, {"Error", r.Error, st.error}} {
			if !sameJSON(f.got, f.want) {
				t.Errorf("step %d: %s = %s, want %s", i, f.name, f.got, f.want)
			}
		}
		if r.GasUsed != st.gasUsed {
			t.Errorf("step %v: GasUsed %v, want %v", i, r.GasUsed, st.gasUsed)
		}
		mem := p.Memory()
		if len(mem) != st.memoryLength {
			t.Errorf("step %d: memory %d bytes, want %d", i, len(mem), st.memoryLength)
		}
		h := memHash(p)
		if !c.memoryNondeterministic && h != st.memorySHA256 {
			t.Errorf("step %d: memory sha256 %s, want %s", i, h, st.memorySHA256)
		}
		hashes = append(hashes, h)
	}
	return hashes
}

// sameJSON compares a raw JSON result field with the reference's
// JSON.stringify of it ("" = undefined).
func sameJSON(got json.RawMessage, want string) bool {
	if want == "" {
		return got == nil
	}
	if got == nil {
		return false
	}
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// Produced by the reference loader @permaweb/ao-loader 0.0.49 (node v20.20.2,
// TZ=UTC, `node -e`), one fresh AoLoader() per case, handle() called in order.
var legacyCases = []legacyCase{
	{
		file: "emscripten/process.wasm", format: Format("wasm32-unknown-emscripten"),
		wasmSHA256: "edb7a3a65e21d734c53738f38bf09144421a6119ddecf81d36e8f3b21313c94b", gasLimit: 9000000000000000, memoryNondeterministic: false,
		steps: []legacyStep{
			{
				msg:     `{"Owner":"tom","Target":"FOO","Tags":[{"name":"Action","value":"echo"}],"Data":"Hello World"}`,
				env:     `{"Process":{"Id":"ctr-id-456","Tags":[]}}`,
				output:  "\"Hello World\"",
				gasUsed: 47555983, memoryLength: 6291456, memorySHA256: "914c84905564e6746dcaeef8051b768e34fa89ae11b5780b3617b9116a34c855",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"inc"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "1",
				gasUsed: 43455270, memoryLength: 6291456, memorySHA256: "21bc4336ad2497519444089fdb51d4ccaa7d909e60febb498dfa5c40a99e542e",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"inc"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "2",
				gasUsed: 43446402, memoryLength: 6291456, memorySHA256: "e73e8b9916e25e349919f90e552f63efc7290c50e3f59e5b0100fc916bc55605",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"Date"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "\"1970-01-01\"",
				gasUsed: 44098802, memoryLength: 6291456, memorySHA256: "93cb448c0e0e12346bbe027cc6401a5131c7ff885b8497d86f74e8fed3f18f2d",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"Random"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "0.5",
				gasUsed: 44686347, memoryLength: 6291456, memorySHA256: "77ef6d704d26191c4680ab46c8ff60a7dd27e6a91e891afce92e699eea6064c1",
			},
		},
	},
	{
		file: "emscripten2/process.wasm", format: Format("wasm32-unknown-emscripten2"),
		wasmSHA256: "a7b3540fc955531db1f40a904aaa11ee01a2ec2c6dc042d673f40c98fb97df39", gasLimit: 9000000000000000, memoryNondeterministic: false,
		steps: []legacyStep{
			{
				msg:     `{"Owner":"tom","Target":"FOO","Tags":[{"name":"Action","value":"echo"}],"Data":"Hello World"}`,
				env:     `{"Process":{"Id":"ctr-id-456","Tags":[]}}`,
				output:  "\"Hello World\"",
				gasUsed: 49645227, memoryLength: 6291456, memorySHA256: "44239855fe9be372964336924227f48ff9ca9bca6407e6f422633656ef0b0d86",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"inc"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "1",
				gasUsed: 45826841, memoryLength: 6291456, memorySHA256: "26662cd52399b571a34a85bedee514b8f55966bffbafeb423856e062f5aad75b",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"inc"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "2",
				gasUsed: 45562131, memoryLength: 6291456, memorySHA256: "0b3fe54b51199acf66af21c8d96322729905260b5c06e9892c18121ed8ee8eb1",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"Date"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "\"1970-01-01\"",
				gasUsed: 46198014, memoryLength: 6291456, memorySHA256: "e68ce4ebcf6386f933a444e566755769abdbe2d8742a35a09484f3ff69100813",
			},
			{
				msg:     `{"Owner":"tom","Target":"1","Tags":[{"name":"Action","value":"Random"}],"Data":""}`,
				env:     `{"Process":{"Id":"1","Tags":[]}}`,
				output:  "0.5",
				gasUsed: 46816654, memoryLength: 6291456, memorySHA256: "1c7c53c746afe909f89269b715343200b32a2eb655c2311239307c26ce1867b0",
			},
		},
	},
	{
		file: "emscripten2/aos.wasm", format: Format("wasm32-unknown-emscripten2"),
		wasmSHA256: "142841b7b5c918f9d98bfd19aa1e60b429a1851fc102ae787f66a3a9f5e8f4e7", gasLimit: 9000000000000, memoryNondeterministic: false,
		steps: []legacyStep{
			{
				msg:      `{"Owner":"tom","Target":"FOO","Tags":[{"name":"Action","value":"Eval"}],"Module":"1234","Block-Height":"1234","Id":"1234","Data":"return 1 + 1"}`,
				env:      `{"Process":{"Owner":"tom","Id":"ctr-id-456","Tags":[{"name":"Module","value":"1234"}],"Module":"1234","Block-Height":"1234"}}`,
				output:   "{\"data\":{\"output\":2,\"json\":\"undefined\",\"prompt\":\"aos> \"}}",
				messages: "[]",
				spawns:   "[]",
				gasUsed:  274790305, memoryLength: 7602176, memorySHA256: "e3dc125dcc9797320d874d53dc28974a8ba92ff530c0b1e892527d6452c2f596",
			},
			{
				msg:      `{"Owner":"tom","Target":"FOO","Tags":[{"name":"Action","value":"Eval"}],"Module":"1234","Block-Height":"1234","Id":"1235","Data":"return tostring(os.time()) .. ' ' .. tostring(os.clock()) .. ' ' .. os.date('%c') .. ' ' .. tostring(math.random()) .. ' ' .. tostring(os.getenv('HOME')) .. ' ' .. tostring(os.getenv('_'))"}`,
				env:      `{"Process":{"Owner":"tom","Id":"ctr-id-456","Tags":[{"name":"Module","value":"1234"}],"Module":"1234","Block-Height":"1234"}}`,
				output:   "{\"data\":{\"output\":\"0 0.0 Thu Jan 01 00:00:00 1970 0.29456471512094 /home/web_user ./this.program\",\"json\":\"undefined\",\"prompt\":\"aos> \"}}",
				messages: "[]",
				spawns:   "[]",
				gasUsed:  279638203, memoryLength: 7602176, memorySHA256: "811a718846a5053c93034ad220c2cb9458e25d9b12e3481d22dffe2ea9b7aaa0",
			},
		},
	},
	{
		file: "emscripten2_sqlite/process.wasm", format: Format("wasm32-unknown-emscripten2"),
		wasmSHA256: "07a7888cfec7ce60395742a853f4ecf5ecbb8d480a3ab1085c574426e24f2e7f", gasLimit: 9000000000000000, memoryNondeterministic: true,
		steps: []legacyStep{
			{
				msg:      `{"Target":"AOS","Owner":"FOOBAR","Block-Height":"1000","Id":"1234xyxfoo","Module":"WOOPAWOOPA","Tags":[{"name":"Action","value":"Eval"}],"Data":"local sqlite3 = require(\"lsqlite3\")\ndb = sqlite3.open_memory()\ndb:exec[[\n  CREATE TABLE test (id INTEGER PRIMARY KEY, content);\n  INSERT INTO test VALUES (NULL, 'Hello Lua');\n  INSERT INTO test VALUES (NULL, 'Hello Sqlite3');\n]]\nreturn \"ok\""}`,
				env:      `{"Process":{"Id":"AOS","Owner":"FOOBAR","Tags":[{"name":"Name","value":"Thomas"}]}}`,
				output:   "{\"data\":{\"output\":\"ok\",\"json\":\"undefined\",\"prompt\":\"aos> \"}}",
				messages: "[]",
				spawns:   "[]",
				gasUsed:  0, memoryLength: 7602176, memorySHA256: "052eec78ceff5f2d45bc38834eed5b27e94a3b609ef816de8e61aa2cc51399db",
			},
			{
				msg:      `{"Target":"AOS","Owner":"FOOBAR","Block-Height":"1000","Id":"1234xyxfoo2","Module":"WOOPAWOOPA","Tags":[{"name":"Action","value":"Eval"}],"Data":"local s = \"\"\nfor row in db:nrows(\"SELECT * FROM test\") do\n  s = s .. row.id .. \": \" .. row.content .. \"\\n\"\nend\nreturn s"}`,
				env:      `{"Process":{"Id":"AOS","Owner":"FOOBAR","Tags":[{"name":"Name","value":"Thomas"}]}}`,
				output:   "{\"data\":{\"output\":\"1: Hello Lua\\n2: Hello Sqlite3\\n\",\"json\":\"undefined\",\"prompt\":\"aos> \"}}",
				messages: "[]",
				spawns:   "[]",
				gasUsed:  0, memoryLength: 7602176, memorySHA256: "9b0660c38290c37394ea4801958a919a5f3caf817d77b4a6005e941806b5c167",
			},
		},
	},
	{
		file: "emscripten3/AOS.wasm", format: Format("wasm32-unknown-emscripten3"),
		wasmSHA256: "291b50e73cddda051934a14c9f934ae00ddd37974b38dd1d7eeeefc75db27874", gasLimit: 9000000000000, memoryNondeterministic: false,
		steps: []legacyStep{
			{
				msg:         `{"Target":"AOS","Owner":"FOOBAR","Block-Height":"1000","Id":"1234xyxfoo","Module":"WOOPAWOOPA","Tags":[{"name":"Action","value":"Eval"}],"Data":"return 1 + 1"}`,
				env:         `{"Process":{"Id":"AOS","Owner":"FOOBAR","Tags":[{"name":"Name","value":"Thomas"}]}}`,
				output:      "{\"data\":{\"prompt\":\"aos> \",\"output\":2,\"json\":\"undefined\"}}",
				messages:    "[]",
				spawns:      "[]",
				assignments: "[]",
				gasUsed:     267974031, memoryLength: 209715200, memorySHA256: "8b051c742c439eed941e339fdb5800399b5a26d29f44bb6b0d23a3617b455e27",
			},
			{
				msg:         `{"Target":"AOS","Owner":"FOOBAR","Block-Height":"1000","Id":"1234xyxfoo2","Module":"WOOPAWOOPA","Tags":[{"name":"Action","value":"Eval"}],"Data":"return os.time() .. ' ' .. os.clock() .. ' ' .. os.date('%c') .. ' ' .. tostring(math.random())"}`,
				env:         `{"Process":{"Id":"AOS","Owner":"FOOBAR","Tags":[{"name":"Name","value":"Thomas"}]}}`,
				output:      "{\"data\":{\"prompt\":\"aos> \",\"output\":\"10 0.001 Thu Jan 01 00:00:10 1970 0.87916069314815\",\"json\":\"undefined\"}}",
				messages:    "[]",
				spawns:      "[]",
				assignments: "[]",
				gasUsed:     253140906, memoryLength: 209715200, memorySHA256: "ddc69fecf1d90c18f50a78803feb07d991c3c0941ea8317cefd71447016ba4a7",
			},
		},
	},
}
