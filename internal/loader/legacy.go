package loader

import "unicode/utf16"

// The three old, synchronous glues of @permaweb/ao-loader 0.0.49:
//
//	wasm32-unknown-emscripten   src/formats/emscripten.cjs   dist/index.cjs    8-1273
//	wasm32-unknown-emscripten2  src/formats/emscripten2.cjs  dist/index.cjs 1276-6773
//	wasm32-unknown-emscripten3  src/formats/emscripten3.cjs  dist/index.cjs 6776-11684
//
// This file holds what they do, as data: which host function each import is,
// which export plays which role, how the runtime is initialised, how ccall
// sizes its string slots, the heap growth limit, the clock. Line numbers are
// those of node_modules/@permaweb/ao-loader/dist/index.cjs (0.0.49), also
// where a comment says "emscripten2.cjs:5036" or "dist 7079". The
// behaviour behind every legacy-only host function is in legacyOnlyImports and,
// with the evidence, in docs/legacy-formats.md.
//
// Conventions:
//   - A canonical import name that hostFuncs() (host.go) implements means the
//     JavaScript of the old glue does what the modern host function does, so it
//     can be wired unchanged (the modern host's own divergences from the modern
//     glue, if any, are inherited).
//   - A canonical name starting with "legacy_" is a host function that only the
//     old glues need; legacyOnlyImports says exactly what it does.
//   - Canonical export names are the names instance.go looks up for the modern
//     formats (emscripten_stack_get_current plays stackSave, and so on).

// legacyImport is one entry of an old glue's import table.
type legacyImport struct {
	canonical string // host function to wire (see the conventions above)
	js        string // the glue's JavaScript function
	line      int    // where that function is defined in dist/index.cjs
}

// legacyInitStep is one thing the glue does to a new instance, in order,
// before the first handle() (run()/doRun()/callMain() of each glue).
type legacyInitStep int

const (
	// legacyInitStackInit: call the export emscripten_stack_init().
	legacyInitStackInit legacyInitStep = iota
	// legacyInitStackCookie: writeStackCookie() without the zero fix-up
	// (emscripten2.cjs:2181): end = emscripten_stack_get_end();
	// u32[end] = 0x02135467, u32[end+4] = 0x89BACDFE, u32[0] = 0x63736D65 ("emsc").
	legacyInitStackCookie
	// legacyInitStackCookieFixZero: the same with `if (end == 0) end += 4`
	// (emscripten3.cjs, dist 7079), as the modern glues do.
	legacyInitStackCookieFixZero
	// legacyInitCtors: call __wasm_call_ctors (initRuntime's __ATINIT__). A trap
	// here makes AoLoader() reject: the module does not load.
	legacyInitCtors
	// legacyInitMain: callMain() calls main(0, 0). Its result and any trap it
	// raises are ignored: readyPromise is already resolved, so the reference
	// loads the module anyway (the exception only reaches readyPromiseReject,
	// which is a no-op by then) and keeps whatever state main left.
	legacyInitMain
	// legacyInitMainArgv: callMain(args) of emscripten2.cjs (6637): argv =
	// stackAlloc(8); s = stackAlloc(lengthBytesUTF8(thisProgram)+1) holding
	// thisProgram and a NUL; u32[argv] = s; u32[argv+4] = 0; main(1, argv). The
	// stack is NOT restored afterwards: every later stack address is lower by
	// the two 16-byte-aligned slots. Result and traps ignored as above.
	legacyInitMainArgv
	// legacyInitFflush: exit(ret, implicit=true) -> checkUnflushedContent()
	// calls the export fflush(0) inside try/catch: errors are ignored. Only
	// when main returned: a trap or exit() in main skips the implicit exit.
	legacyInitFflush
)

// legacyClockKind is what a clock import returns.
type legacyClockKind int

const (
	legacyClockNone    legacyClockKind = iota // the glue does not provide this clock
	legacyClockZero                           // always 0 (f64); consumes no counter value
	legacyClockNaN                            // always NaN, bits 0x7FF8000000000000 (V8's canonical NaN)
	legacyClockCounter                        // the glue's Date.now counter: return it, then add 1
)

// legacyClock describes the two clock imports of a glue.
type legacyClock struct {
	dateNow legacyClockKind // emscripten_date_now / _emscripten_date_now
	getNow  legacyClockKind // emscripten_get_now
	// first is the counter value seen by the first wasm call of a clock import
	// on a fresh instance (legacyClockCounter only): TIME starts at 10000 and
	// the glue's own JavaScript consumes some values first.
	first float64
	// ttyWriteTicks: every FS.write to a TTY stream with length > 0 (one per
	// non-empty iovec of fd_write on fds 0-2) calls Date.now() once
	// (stream.node.timestamp = Date.now(), emscripten3.cjs dist 7849), which
	// advances the counter the wasm sees.
	ttyWriteTicks bool
}

// legacySlot is how ccall sizes the stack slot of a string argument.
type legacySlot int

const (
	// legacySlotUTF16x4: (str.length << 2) + 1, str.length in UTF-16 code
	// units (emscripten.cjs:214, emscripten2.cjs:1842).
	legacySlotUTF16x4 legacySlot = iota
	// legacySlotUTF8: lengthBytesUTF8(str) + 1 (stringToUTF8OnStack,
	// emscripten3.cjs dist 11321), as the modern glues.
	legacySlotUTF8
)

// legacyGlue describes one old emscripten glue.
type legacyGlue struct {
	source string // src/formats file inside the package
	lines  [2]int // first and last line of the glue in dist/index.cjs
	// modules are the import module names that receive the import table: each
	// field of imports is provided under every one of them (createWasm's info).
	// metering.usegas is provided as well (usegas below).
	modules   []string
	tableLine int // line of asmLibraryArg / wasmImports
	imports   map[string]legacyImport
	// usegas: info.metering.usegas(gas) = { gas.used += gas (the i32 as a
	// SIGNED JavaScript number); if (gas.used > gas.limit) throw Error("out of
	// gas!") }, limit = computeLimit || 9e15. All three provide it.
	usegas bool
	// exports maps the canonical export names (those instance.go looks up for
	// the modern formats) to the names the module exports; "" means the glue
	// never calls it (a module may still export it).
	exports map[string]string
	// required are the canonical exports the glue uses unconditionally while
	// loading or on every handle(): a module without them fails in the
	// reference. The others are looked up lazily (only when an import needs them).
	required []string
	// heapMax is getHeapMax(); emscripten_resize_heap uses it (the growth policy
	// itself is the modern one, see docs/legacy-formats.md).
	heapMax uint64
	// growthLine is the line of _emscripten_resize_heap.
	growthLine int
	slot       legacySlot
	init       []legacyInitStep
	clock      legacyClock
}

// The legacy glues' environment strings are the emscripten defaults
// (emscripten.cjs:794, emscripten2.cjs:5536, emscripten3.cjs dist 10858), in
// every loader version, with "_=" + the engine's thisProgram (environStrings).
// The glues take thisProgram from process.argv[1] of the node process
// (backslashes turned into slashes; "./this.program" when node has none): in
// the reference CU the path of its app.js, see EngineConfig.ThisProgram.

// legacyTZName is what the old glues take as the time-zone name under TZ=UTC:
// the parenthesised part of Date.prototype.toTimeString() (extractZone), on
// node 20: "00:00:00 GMT+0000 (Coordinated Universal Time)".
const legacyTZName = "Coordinated Universal Time"

// legacyNaNBits is the NaN that reaches wasm from JavaScript arithmetic.
const legacyNaNBits = 0x7FF8000000000000

// legacyOnlyImport documents a host function that only the old glues need.
type legacyOnlyImport struct {
	sig string // wasm signature, as "(i32,i32)->(i32)"; "" when it varies by import
	doc string // exact JavaScript behaviour, under TZ=UTC
}

// legacyOnlyImports are the canonical names of the host functions that the
// modern host does not have, and what each must do. Errno values are
// emscripten's (EBADF 8, EINVAL 28, ENOENT 44, ENOSYS 52, ENOTTY 59, ESPIPE 70,
// ENODEV 43, EACCES 2, EOVERFLOW 61).
var legacyOnlyImports = map[string]legacyOnlyImport{
	"legacy_path_enoent": {"",
		"the path syscalls of emscripten2.cjs on its own, older FS (another struct stat layout, another nextfd): not reproduced; aocu answers -ENOENT (44) as if no path existed (docs/compatibility.md)"},
	"legacy_fd_ebadf": {"",
		"dup3/fstat64/fchmod/fchown32/ftruncate64 of emscripten2.cjs: not reproduced; aocu answers -EBADF (8)"},
	"legacy_date_now_zero": {"()->(f64)",
		"__emscripten_date_now(){return 0} (emscripten.cjs:650, emscripten2.cjs:5343): always 0.0; it does not touch the Date.now counter"},
	"legacy_get_now_nan": {"()->(f64)",
		"_emscripten_get_now (emscripten2.cjs:5489-5491): t = process.hrtime(); return t[0]*1e3 + t[1]/1e6, but the glue set process.hrtime = Date.now (6376), which returns a number, so the result is always NaN (f64 bits 0x7FF8000000000000)"},
	"legacy_getTempRet0": {"()->(i32)",
		"returns the glue's JavaScript variable tempRet0 (initially 0, per instance, not in linear memory)"},
	"legacy_setTempRet0": {"(i32)->()",
		"tempRet0 = value (the variable read by legacy_getTempRet0)"},
	"legacy_gmtime_js_timeptr": {"(i32,i32)->()",
		"__gmtime_js(time, tmPtr) (emscripten.cjs:660, emscripten2.cjs:5354): t = i32 at [time] (a POINTER to a 32-bit time_t, read signed); writes tm_sec..tm_wday and tm_yday (offsets 0..28) from new Date(t*1000) in UTC, like the modern _gmtime_js"},
	"legacy_localtime_js_timeptr": {"(i32,i32)->()",
		"__localtime_js(time, tmPtr) (emscripten.cjs:673, emscripten2.cjs:5367): t = i32 at [time]; writes offsets 0..28 in local time (= UTC), tm_gmtoff (+36) = 0 and tm_isdst (+32) = 0, like the modern wasm32 _localtime_js"},
	"legacy_mktime_js_i32": {"(i32)->(i32)",
		"__mktime_js(tmPtr) (emscripten.cjs:691, emscripten2.cjs:5385): date = new Date(tm_year+1900, tm_mon, tm_mday, tm_hour, tm_min, tm_sec) in UTC (JS quirk: a year 0..99 means 1900..1999); if tm_isdst < 0 it is set to 0; then writes tm_wday, tm_yday, tm_sec, tm_min, tm_hour, tm_mday, tm_mon of the normalised date but NOT tm_year; returns (date.getTime()/1000)|0 (ToInt32; an invalid date gives 0); no high word (no setTempRet0)"},
	"legacy_tzset_js_malloc": {"(i32,i32,i32)->()",
		"__tzset_js(timezone, daylight, tzname) (emscripten.cjs:716/741, emscripten2.cjs:5448/5474): only the FIRST call per instance does anything (__tzset_js.called is JS state: a restored snapshot in a new instance runs it again); i32 [timezone] = 0; i32 [daylight] = 0; w = malloc(27) holding \"Coordinated Universal Time\\0\" (winter name, allocated first), s = malloc(27) the same (summer name); u32 [tzname] = s; u32 [tzname+4] = w (summerOffset < winterOffset is false). The mallocs are part of the memory image"},
	"legacy_tzset_js_em3": {"(i32,i32,i32,i32)->()",
		"__tzset_js(timezone, daylight, std_name, dst_name) (emscripten3.cjs dist 10780): every call: u32 [timezone] = 0; i32 [daylight] = 0; stringToUTF8(winterName, dst_name, 7) then stringToUTF8(summerName, std_name, 7): both receive the 7 bytes \"Coordi\\0\" (the name truncated to 6 bytes). The modern glue writes \"UTC\" (17-byte limit, toLocaleTimeString)"},
	"legacy_abort_em1": {"()->()",
		"_abort(){abort(\"\")} (emscripten.cjs:747): throws RuntimeError \"Aborted(). Build with -sASSERTIONS for more info.\""},
	"legacy_system_errno": {"(i32)->(i32)",
		"_system(command) (emscripten.cjs:1075, emscripten2.cjs:5996): command == 0 -> 0; else i32 [__errno_location()] = 52 (calls that export) and returns -1 (the modern glue returns -52 and lets libc set errno)"},
	"legacy_syscall_zero": {"",
		"emscripten.cjs:625-649 (__syscall_dup3, fcntl64, ioctl, lstat64, openat, renameat, rmdir, unlinkat): empty stubs; return 0 (undefined -> i32 0) and write nothing. NB openat returns fd 0 (stdin) for any path, ioctl succeeds on every fd"},
	"legacy_fd_close_enosys": {"(i32)->(i32)",
		"_fd_close(fd){return 52} (emscripten.cjs:835)"},
	"legacy_fd_read_enosys": {"(i32,i32,i32,i32)->(i32)",
		"_fd_read(...){return 52} (emscripten.cjs:838): nothing written (not even *pnum)"},
	"legacy_fd_seek_espipe": {"(i32,i32,i32,i32,i32)->(i32)",
		"_fd_seek(...){return 70} (emscripten.cjs:841): nothing written, for every fd"},
	"legacy_fd_write_em1": {"(i32,i32,i32,i32)->(i32)",
		"_fd_write(fd, iov, iovcnt, pnum) (emscripten.cjs:854): no file system; every byte goes through printChar(fd, byte): fd 1 -> stdout line buffer, fd 2 -> stderr line buffer, flushed on byte 0 or 10 (byte 0 is not kept); *pnum (u32) = total length; returns 0. Any byte for fd 0 throws TypeError \"Cannot read properties of null (reading 'push')\" (byte 0/10: \"... (reading '0')\"), for any other fd \"Cannot read properties of undefined (reading 'push')\" / \"... (reading '0')\": handle() rejects with that message. No clock tick"},
	"legacy_environ_sizes_get": {"(i32,i32)->(i32)",
		"u32 [count] = 7; u32 [size] = sum(len(s)+1) over environStrings(thisProgram); returns 0 (the modern glues of 0.0.47+ report 0/0)"},
	"legacy_environ_get": {"(i32,i32)->(i32)",
		"for each string i of environStrings(thisProgram): u32 [environ+4i] = buf+off; the ASCII bytes and a NUL at buf+off; returns 0. __wasm_call_ctors calls both at load (emscripten's __environ constructor), so the strings are in every memory image"},
	"legacy_fd_fdstat_get_em2": {"(i32,i32)->(i32)",
		"_fd_fdstat_get (emscripten2.cjs:5596): unknown fd -> 8; else writes ONLY the type byte at pbuf (2 for the TTYs 0-2, 4 for a regular file) and returns 0; flags and rights are left untouched (the modern glue zeroes them)"},
	"legacy_fcntl64_em2": {"(i32,i32,i32)->(i32)",
		"___syscall_fcntl64 (emscripten2.cjs:5036), old command numbers: unknown fd -> -8; 0 (F_DUPFD) -> FS.createStream(stream, arg).fd (lowest free fd >= arg; arg < 0 -> -28); 1, 2 -> 0; 3 -> stream.flags (0 for stdin, 1 for stdout/stderr); 4 -> flags |= arg, 0; 5 (F_GETLK) -> i16 [arg] = 2 (F_UNLCK), 0; 6, 7 -> 0; 8, 16 -> -28; 9 -> i32 [__errno_location()] = 28, returns -1; anything else -> -28. (emscripten3/4 use 12/13/14 for the locks.)"},
	"legacy_ioctl_em2": {"(i32,i32,i32)->(i32)",
		"___syscall_ioctl (emscripten2.cjs:5129): unknown fd -> -8; non-TTY -> -59 for the TTY ops; TTYs (0-2): 21505 TCGETS and 21523 TIOCGWINSZ return 0 WITHOUT writing termios/winsize; 21509, 21510, 21511, 21512, 21506, 21507, 21508, 21524 -> 0; 21519 TIOCGPGRP -> i32 [vararg] = 0, 0; 21520 -> -28; 21531 FIONREAD -> -59 (TTY streams have no ioctl op); ANY other op (21515 TCFLSH included) -> abort(\"bad ioctl syscall \" + op): RuntimeError \"Aborted(bad ioctl syscall N)\""},
	"legacy_dlopen_abort": {"",
		"__dlopen_js / __dlsym_js (emscripten2.cjs:5337/5340): RuntimeError \"Aborted(To use dlopen, you need enable dynamic linking, see https://github.com/emscripten-core/emscripten/wiki/Linking)\""},
	"legacy_noop": {"",
		"__dlinit (emscripten2.cjs:5334): does nothing, returns nothing"},
	"legacy_mmap_em2": {"(i32,i32,i32,i32,i32,i32)->(i32)",
		"__mmap_js(len, prot, flags, fd, off, allocated) (emscripten2.cjs:5418): FS.getStream(fd) missing -> -8; FS.mmap: (prot&2) && !(flags&2) && (stream.flags&2097155) != 2 -> -2; (stream.flags&2097155) == 1 (stdout/stderr) -> -2; no mmap stream op (TTYs) -> -43; MEMFS files: allocates with the module's memalign and returns the pointer, i32 [allocated] = 1"},
	"legacy_mmap_em3": {"(i32,i32,i32,i32,i32,i32,i32,i32)->(i32)",
		"__mmap_js(len, prot, flags, fd, off_lo, off_hi, allocated, addr) (emscripten3.cjs dist 10745): offset not an i53 -> +61; unknown fd -> -8; then FS.mmap as legacy_mmap_em2 (-2 / -2 / -43); on success i32 [allocated] = res.allocated, u32 [addr] = ptr, returns 0"},
}

// legacyGlues holds the facts of each old glue.
var legacyGlues = map[Format]legacyGlue{
	FormatEmscripten: {
		source:    "src/formats/emscripten.cjs",
		lines:     [2]int{8, 1273},
		modules:   []string{"a"}, // createWasm: info = {a: asmLibraryArg, metering: {usegas}} (535)
		tableLine: 1122,
		imports: map[string]legacyImport{
			"a": {"legacy_date_now_zero", "__emscripten_date_now", 650},
			"A": {"_emscripten_get_now_is_monotonic", "__emscripten_get_now_is_monotonic", 654},
			"b": {"legacy_setTempRet0", "_setTempRet0", 871},
			"B": {"legacy_gmtime_js_timeptr", "__gmtime_js", 660},
			"c": {"legacy_fd_close_enosys", "_fd_close", 835},
			"C": {"legacy_localtime_js_timeptr", "__localtime_js", 673},
			"d": {"legacy_syscall_zero", "___syscall_fcntl64", 631},
			"D": {"legacy_abort_em1", "_abort", 747},
			"e": {"legacy_syscall_zero", "___syscall_unlinkat", 648},
			"f": {"legacy_fd_write_em1", "_fd_write", 854},
			"g": {"legacy_syscall_zero", "___syscall_openat", 641},
			"h": {"legacy_getTempRet0", "_getTempRet0", 868},
			"i": {"legacy_mktime_js_i32", "__mktime_js", 691},
			"j": {"legacy_tzset_js_malloc", "__tzset_js", 741},
			"k": {"_emscripten_memcpy_js", "_emscripten_memcpy_big", 757},
			"l": {"exit", "_exit", 832},
			"m": {"legacy_system_errno", "_system", 1075},
			"n": {"strftime", "_strftime", 907},
			"o": {"legacy_fd_seek_espipe", "_fd_seek", 841},
			"p": {"_emscripten_throw_longjmp", "__emscripten_throw_longjmp", 657},
			"q": {"emscripten_resize_heap", "_emscripten_resize_heap", 771},
			"r": {"legacy_syscall_zero", "___syscall_lstat64", 639},
			"s": {"legacy_syscall_zero", "___syscall_renameat", 644},
			"t": {"legacy_syscall_zero", "___syscall_rmdir", 646},
			"u": {"legacy_environ_get", "_environ_get", 812},
			"v": {"legacy_environ_sizes_get", "_environ_sizes_get", 822},
			"w": {"legacy_syscall_zero", "___syscall_dup3", 625},
			"x": {"invoke_vii", "invoke_vii", 1151},
			"y": {"legacy_fd_read_enosys", "_fd_read", 838},
			"z": {"legacy_syscall_zero", "___syscall_ioctl", 635},
		},
		usegas: true,
		// receiveInstance (540-547) and the export wrappers (1124-1150).
		exports: map[string]string{
			"memory":                       "E",
			"__wasm_call_ctors":            "F",
			"handle":                       "G",
			"main":                         "H",
			"__indirect_function_table":    "I",
			"malloc":                       "J",
			"__errno_location":             "K",
			"setThrew":                     "L",
			"emscripten_stack_get_current": "M", // stackSave
			"_emscripten_stack_restore":    "N", // stackRestore
			"_emscripten_stack_alloc":      "O", // stackAlloc
			"free":                         "",
			"emscripten_stack_init":        "",
			"emscripten_stack_get_end":     "",
			"fflush":                       "",
			"_emscripten_tempret_set":      "",
		},
		required: []string{"memory", "__indirect_function_table", "__wasm_call_ctors", "main", "handle",
			"emscripten_stack_get_current", "_emscripten_stack_restore", "_emscripten_stack_alloc"},
		heapMax:    524288000, // getHeapMax(){return 524288e3} (760)
		growthLine: 771,
		slot:       legacySlotUTF16x4,
		init:       []legacyInitStep{legacyInitCtors, legacyInitMain},
		clock:      legacyClock{dateNow: legacyClockZero, getNow: legacyClockNone},
	},
	FormatEmscripten2: {
		source:    "src/formats/emscripten2.cjs",
		lines:     [2]int{1276, 6773},
		modules:   []string{"env", "wasi_snapshot_preview1"}, // createWasm info (2419)
		tableLine: 6253,
		imports: map[string]legacyImport{
			"__assert_fail":                    {"__assert_fail", "___assert_fail", 2630},
			"__syscall_chmod":                  {"legacy_path_enoent", "___syscall_chmod", 4955},
			"__syscall_dup3":                   {"legacy_fd_ebadf", "___syscall_dup3", 4966},
			"__syscall_faccessat":              {"legacy_path_enoent", "___syscall_faccessat", 4982},
			"__syscall_fchmod":                 {"legacy_fd_ebadf", "___syscall_fchmod", 5012},
			"__syscall_fchown32":               {"legacy_fd_ebadf", "___syscall_fchown32", 5022},
			"__syscall_fcntl64":                {"legacy_fcntl64_em2", "___syscall_fcntl64", 5036},
			"__syscall_fstat64":                {"legacy_fd_ebadf", "___syscall_fstat64", 5085},
			"__syscall_ftruncate64":            {"legacy_fd_ebadf", "___syscall_ftruncate64", 5100},
			"__syscall_getcwd":                 {"__syscall_getcwd", "___syscall_getcwd", 5113},
			"__syscall_ioctl":                  {"legacy_ioctl_em2", "___syscall_ioctl", 5129},
			"__syscall_lstat64":                {"legacy_path_enoent", "___syscall_lstat64", 5185},
			"__syscall_mkdirat":                {"legacy_path_enoent", "___syscall_mkdirat", 5195},
			"__syscall_newfstatat":             {"legacy_path_enoent", "___syscall_newfstatat", 5210},
			"__syscall_openat":                 {"legacy_path_enoent", "___syscall_openat", 5225},
			"__syscall_readlinkat":             {"legacy_path_enoent", "___syscall_readlinkat", 5238},
			"__syscall_renameat":               {"legacy_path_enoent", "___syscall_renameat", 5256},
			"__syscall_rmdir":                  {"legacy_path_enoent", "___syscall_rmdir", 5270},
			"__syscall_stat64":                 {"legacy_path_enoent", "___syscall_stat64", 5281},
			"__syscall_unlinkat":               {"legacy_path_enoent", "___syscall_unlinkat", 5291},
			"__syscall_utimensat":              {"legacy_path_enoent", "___syscall_utimensat", 5309},
			"_dlinit":                          {"legacy_noop", "__dlinit", 5334},
			"_dlopen_js":                       {"legacy_dlopen_abort", "__dlopen_js", 5337},
			"_dlsym_js":                        {"legacy_dlopen_abort", "__dlsym_js", 5340},
			"_emscripten_date_now":             {"legacy_date_now_zero", "__emscripten_date_now", 5343},
			"_emscripten_get_now_is_monotonic": {"_emscripten_get_now_is_monotonic", "__emscripten_get_now_is_monotonic", 5348},
			"_emscripten_throw_longjmp":        {"_emscripten_throw_longjmp", "__emscripten_throw_longjmp", 5351},
			"_gmtime_js":                       {"legacy_gmtime_js_timeptr", "__gmtime_js", 5354},
			"_localtime_js":                    {"legacy_localtime_js_timeptr", "__localtime_js", 5367},
			"_mktime_js":                       {"legacy_mktime_js_i32", "__mktime_js", 5385},
			"_mmap_js":                         {"legacy_mmap_em2", "__mmap_js", 5418},
			"_munmap_js":                       {"_munmap_js", "__munmap_js", 5433},
			"_tzset_js":                        {"legacy_tzset_js_malloc", "__tzset_js", 5474},
			"abort":                            {"_abort_js", "_abort", 5480},
			"emscripten_get_heap_max":          {"emscripten_get_heap_max", "_emscripten_get_heap_max", 5486},
			"emscripten_get_now":               {"legacy_get_now_nan", "_emscripten_get_now", 5489},
			"emscripten_memcpy_big":            {"_emscripten_memcpy_js", "_emscripten_memcpy_big", 5498},
			"emscripten_resize_heap":           {"emscripten_resize_heap", "_emscripten_resize_heap", 5510},
			"environ_get":                      {"legacy_environ_get", "_environ_get", 5562},
			"environ_sizes_get":                {"legacy_environ_sizes_get", "_environ_sizes_get", 5572},
			"exit":                             {"exit", "_exit", 5582},
			"fd_close":                         {"fd_close", "_fd_close", 5585},
			"fd_fdstat_get":                    {"legacy_fd_fdstat_get_em2", "_fd_fdstat_get", 5596},
			"fd_read":                          {"fd_read", "_fd_read", 5623},
			"fd_seek":                          {"fd_seek", "_fd_seek", 5635},
			"fd_sync":                          {"fd_sync", "_fd_sync", 5652},
			"fd_write":                         {"fd_write", "_fd_write", 5678},
			"getTempRet0":                      {"legacy_getTempRet0", "_getTempRet0", 5690},
			"invoke_vii":                       {"invoke_vii", "invoke_vii", 6355},
			"setTempRet0":                      {"legacy_setTempRet0", "_setTempRet0", 5693},
			"strftime":                         {"strftime", "_strftime", 5729},
			"system":                           {"legacy_system_errno", "_system", 5996},
		},
		usegas: true,
		// receiveInstance (2428-2437) and the export wrappers (6308-6334).
		exports: map[string]string{
			"memory":                       "memory",
			"__indirect_function_table":    "__indirect_function_table",
			"__wasm_call_ctors":            "__wasm_call_ctors",
			"handle":                       "handle",
			"main":                         "main",
			"malloc":                       "malloc",
			"free":                         "free",
			"__errno_location":             "__errno_location",
			"fflush":                       "fflush",
			"setThrew":                     "setThrew",
			"emscripten_stack_init":        "emscripten_stack_init",
			"emscripten_stack_get_end":     "emscripten_stack_get_end",
			"emscripten_stack_get_current": "stackSave",
			"_emscripten_stack_restore":    "stackRestore",
			"_emscripten_stack_alloc":      "stackAlloc",
			"_emscripten_tempret_set":      "",
		},
		required: []string{"memory", "__indirect_function_table", "__wasm_call_ctors", "main", "handle",
			"emscripten_stack_init", "emscripten_stack_get_end",
			"emscripten_stack_get_current", "_emscripten_stack_restore", "_emscripten_stack_alloc"},
		heapMax:    524288000, // getHeapMax(){return 524288e3} (5483)
		growthLine: 5510,
		slot:       legacySlotUTF16x4,
		init: []legacyInitStep{legacyInitStackInit, legacyInitStackCookie, legacyInitCtors,
			legacyInitMainArgv, legacyInitFflush},
		clock: legacyClock{dateNow: legacyClockZero, getNow: legacyClockNaN},
	},
	FormatEmscripten3: {
		source:    "src/formats/emscripten3.cjs",
		lines:     [2]int{6776, 11684},
		modules:   []string{"env", "wasi_snapshot_preview1"}, // createWasm info (7316)
		tableLine: 11381,
		imports: map[string]legacyImport{
			"__syscall_chmod":                  {"__syscall_chmod", "___syscall_chmod", 10173},
			"__syscall_dup3":                   {"__syscall_dup3", "___syscall_dup3", 10185},
			"__syscall_faccessat":              {"__syscall_faccessat", "___syscall_faccessat", 10201},
			"__syscall_fchmod":                 {"__syscall_fchmod", "___syscall_fchmod", 10235},
			"__syscall_fchown32":               {"__syscall_fchown32", "___syscall_fchown32", 10245},
			"__syscall_fcntl64":                {"__syscall_fcntl64", "___syscall_fcntl64", 10255},
			"__syscall_fstat64":                {"__syscall_fstat64", "___syscall_fstat64", 10300},
			"__syscall_ftruncate64":            {"__syscall_ftruncate64", "___syscall_ftruncate64", 10311},
			"__syscall_getcwd":                 {"__syscall_getcwd", "___syscall_getcwd", 10328},
			"__syscall_ioctl":                  {"__syscall_ioctl", "___syscall_ioctl", 10346},
			"__syscall_lstat64":                {"__syscall_lstat64", "___syscall_lstat64", 10452},
			"__syscall_mkdirat":                {"__syscall_mkdirat", "___syscall_mkdirat", 10464},
			"__syscall_newfstatat":             {"__syscall_newfstatat", "___syscall_newfstatat", 10480},
			"__syscall_openat":                 {"__syscall_openat", "___syscall_openat", 10497},
			"__syscall_readlinkat":             {"__syscall_readlinkat", "___syscall_readlinkat", 10512},
			"__syscall_renameat":               {"__syscall_renameat", "___syscall_renameat", 10533},
			"__syscall_rmdir":                  {"__syscall_rmdir", "___syscall_rmdir", 10549},
			"__syscall_stat64":                 {"__syscall_stat64", "___syscall_stat64", 10561},
			"__syscall_unlinkat":               {"__syscall_unlinkat", "___syscall_unlinkat", 10573},
			"__syscall_utimensat":              {"__syscall_utimensat", "___syscall_utimensat", 10593},
			"_emscripten_get_now_is_monotonic": {"_emscripten_get_now_is_monotonic", "__emscripten_get_now_is_monotonic", 10621},
			"_emscripten_system":               {"_emscripten_system", "__emscripten_system", 10622},
			"_emscripten_throw_longjmp":        {"_emscripten_throw_longjmp", "__emscripten_throw_longjmp", 10664},
			"_gmtime_js":                       {"_gmtime_js", "__gmtime_js", 10667},
			"_localtime_js":                    {"_localtime_js", "__localtime_js", 10691},
			"_mktime_js":                       {"_mktime_js", "__mktime_js", 10711},
			"_mmap_js":                         {"legacy_mmap_em3", "__mmap_js", 10745},
			"_munmap_js":                       {"_munmap_js", "__munmap_js", 10765},
			"_tzset_js":                        {"legacy_tzset_js_em3", "__tzset_js", 10780},
			"abort":                            {"_abort_js", "_abort", 10807},
			"emscripten_date_now":              {"emscripten_date_now", "_emscripten_date_now", 10810},
			"emscripten_get_heap_max":          {"emscripten_get_heap_max", "_emscripten_get_heap_max", 10812},
			"emscripten_get_now":               {"emscripten_get_now", "_emscripten_get_now", 10815},
			"emscripten_memcpy_js":             {"_emscripten_memcpy_js", "_emscripten_memcpy_js", 10817},
			"emscripten_resize_heap":           {"emscripten_resize_heap", "_emscripten_resize_heap", 10834},
			"environ_get":                      {"legacy_environ_get", "_environ_get", 10891},
			"environ_sizes_get":                {"legacy_environ_sizes_get", "_environ_sizes_get", 10903},
			"exit":                             {"exit", "_exit", 10933},
			"fd_close":                         {"fd_close", "_fd_close", 10934},
			"fd_fdstat_get":                    {"fd_fdstat_get", "_fd_fdstat_get", 10945},
			"fd_read":                          {"fd_read", "_fd_read", 10984},
			"fd_seek":                          {"fd_seek", "_fd_seek", 10999},
			"fd_sync":                          {"fd_sync", "_fd_sync", 11017},
			"fd_write":                         {"fd_write", "_fd_write", 11046},
			"invoke_vii":                       {"invoke_vii", "invoke_vii", 11514},
			"strftime":                         {"strftime", "_strftime", 11095},
		},
		usegas: true,
		// receiveInstance (7325-7334), applySignatureConversions (11525) and the
		// export wrappers (11476-11491). There is no malloc/free: the glue's
		// _malloc/_free abort ("malloc() called but not included in the build").
		exports: map[string]string{
			"memory":                       "memory",
			"__indirect_function_table":    "__indirect_function_table",
			"__wasm_call_ctors":            "__wasm_call_ctors",
			"handle":                       "handle",
			"main":                         "main",
			"fflush":                       "fflush",
			"setThrew":                     "setThrew",
			"emscripten_stack_init":        "emscripten_stack_init",
			"emscripten_stack_get_end":     "emscripten_stack_get_end",
			"emscripten_stack_get_current": "stackSave",
			"_emscripten_stack_restore":    "stackRestore",
			"_emscripten_stack_alloc":      "stackAlloc",
			// _mktime_js returns the low word and passes the high word to this
			// export (the modern glue's _emscripten_tempret_set).
			"_emscripten_tempret_set": "setTempRet0",
			"malloc":                  "",
			"free":                    "",
			"__errno_location":        "",
		},
		required: []string{"memory", "__indirect_function_table", "__wasm_call_ctors", "main", "handle",
			"emscripten_stack_init", "emscripten_stack_get_end",
			"emscripten_stack_get_current", "_emscripten_stack_restore", "_emscripten_stack_alloc"},
		heapMax:    4294901760, // getHeapMax = () => 4294901760 (10811)
		growthLine: 10834,
		slot:       legacySlotUTF8,
		init: []legacyInitStep{legacyInitStackInit, legacyInitStackCookieFixZero, legacyInitCtors,
			legacyInitMain, legacyInitFflush},
		// Date.now = deterministicNow (TIME++ from 10000, 11546); FS.init's
		// createStandardStreams makes three symlinks (9698-9708), each taking a
		// value, so the first wasm call sees 10003. emscripten_get_now is
		// deterministicNow too (10815): both advance the same counter.
		clock: legacyClock{dateNow: legacyClockCounter, getNow: legacyClockCounter, first: 10003, ttyWriteTicks: true},
	},
}

// isLegacyFormat reports whether f uses one of the old synchronous glues.
func isLegacyFormat(f Format) bool {
	_, ok := legacyGlues[f]
	return ok
}

// firstClock is the value the glue's Date.now counter has when the wasm first
// reads it on a new instance (legacyClock.first for the old glues that use the
// counter; em1/em2 never read it).
func (f Format) firstClock() float64 {
	if g, ok := legacyGlues[f]; ok && g.clock.first != 0 {
		return g.clock.first
	}
	return firstClock
}

// legacyImportName returns the canonical host function an old glue provides
// for the import (module, field), and false when the glue provides nothing
// there (the reference then fails to link the module: LinkError) or f is not a
// legacy format.
func legacyImportName(f Format, module, field string) (canonical string, ok bool) {
	g, ok := legacyGlues[f]
	if !ok {
		return "", false
	}
	if module == "metering" {
		if field == "usegas" && g.usegas {
			return "usegas", true
		}
		return "", false
	}
	for _, m := range g.modules {
		if m == module {
			imp, ok := g.imports[field]
			return imp.canonical, ok
		}
	}
	return "", false
}

// legacyExportName returns the name under which a module of format f exports
// the canonical export (the name instance.go uses for the modern formats): a
// minified letter for wasm32-unknown-emscripten, "stackAlloc" for
// _emscripten_stack_alloc, and so on. It returns "" when the glue never uses
// that export, and the canonical name itself for formats that are not legacy
// and for exports the table does not list.
func legacyExportName(f Format, canonical string) string {
	g, ok := legacyGlues[f]
	if !ok {
		return canonical
	}
	if name, ok := g.exports[canonical]; ok {
		return name
	}
	return canonical
}

// legacyStringSlot is the stack slot ccall reserves for a string argument of
// an old glue (the caller passes JSON.stringify's output as UTF-8 bytes).
func legacyStringSlot(f Format, b []byte) uint64 {
	g, ok := legacyGlues[f]
	if !ok || g.slot == legacySlotUTF8 {
		return uint64(len(b)) + 1
	}
	n := 0
	for _, r := range string(b) {
		n += utf16.RuneLen(r)
	}
	return uint64(n)<<2 + 1
}
