package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aocu/aocu/internal/metering"
)

// The host side of the emscripten glue (@permaweb/ao-loader 0.0.49,
// formats/wasm64-emscripten.cjs and emscripten4.cjs), reimplemented import by
// import. Every function here mirrors what the reference glue does to linear
// memory, because the memory image is part of the compatibility contract.

// emscripten errno values (not Linux's).
const (
	errnoBADF   = 8
	errnoINVAL  = 28
	errnoNOENT  = 44
	errnoNOSYS  = 52
	errnoNOTTY  = 59
	errnoSPIPE  = 70
	errnoOVERFL = 61
	errnoRANGE  = 68
)

// asyncifyStackSize is Asyncify.StackSize of the glue, a glue constant.
const asyncifyStackSize = 41943040

// referenceImports lists the names the reference glue provides under both
// "env" and "wasi_snapshot_preview1" (wasm64 and emscripten4 glues together).
var referenceImports = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`__assert_fail metering_gasUsed __asyncjs__weavedrive_close __asyncjs__weavedrive_open
		__asyncjs__weavedrive_read __cxa_throw __syscall_chmod __syscall_dup3 __syscall_faccessat __syscall_fchmod
		__syscall_fchown32 __syscall_fcntl64 __syscall_fstat64 __syscall_ftruncate64 __syscall_getcwd __syscall_ioctl
		__syscall_lstat64 __syscall_mkdirat __syscall_newfstatat __syscall_openat __syscall_readlinkat __syscall_renameat
		__syscall_rmdir __syscall_stat64 __syscall_unlinkat __syscall_utimensat _abort_js _emscripten_get_now_is_monotonic
		_emscripten_memcpy_js _emscripten_system _emscripten_throw_longjmp _gmtime_js _localtime_js _mktime_js _munmap_js
		_tzset_js emscripten_date_now emscripten_err emscripten_get_heap_max emscripten_get_now emscripten_resize_heap
		environ_get environ_sizes_get exit fd_close fd_fdstat_get fd_read fd_seek fd_sync fd_write strftime strftime_l`) {
		referenceImports[n] = true
	}
}

func knownImport(module, name string) bool {
	switch module {
	case "metering":
		return name == "usegas"
	case "env", "wasi_snapshot_preview1":
		return referenceImports[name] || strings.HasPrefix(name, "invoke_")
	}
	return false
}

// hostFn is one import's implementation, whatever engine runs the module. Its
// arguments are the raw bits of the wasm values (an i32 zero-extended, an i64
// as is, a float as its IEEE bits); integer results are returned as int64,
// float results as their IEEE bits. An error traps the wasm code (trapWith).
type hostFn func(a []uint64) (int64, error)

// sentinels carried through traps; the host records the Go error and returns a
// trap whose identity it recognises.
var (
	errLongjmp = errors.New("emscripten longjmp")
)

// abortError is a trap raised by the glue's abort() and the like: the
// reference handle() rejects with a JavaScript Error of this message.
type abortError struct{ msg string }

func (e *abortError) Error() string { return e.msg }

// exitError is the glue's exit(): it throws new ExitStatus(status), a plain
// object {name, message, status}, not an Error.
type exitError struct{ status int32 }

func (e *exitError) Error() string { return fmt.Sprintf("Program terminated with exit(%d)", e.status) }

// trapWith records err as the reason of the trap it raises: the host
// function returns it, the engine unwinds the wasm code, and classify reports
// it.
func (h *instance) trapWith(err error) error {
	h.pending = err
	return err
}

// data is the linear memory at its current size.
func (h *instance) data() []byte { return h.vm.data() }

// memSize is the linear memory's current size in bytes.
func (h *instance) memSize() uint64 { return uint64(len(h.vm.data())) }

// growPages is memory.grow: the size before, in pages.
func (h *instance) growPages(pages uint64) (uint64, error) { return h.vm.grow(pages) }

func (h *instance) putPtr(d []byte, addr, v uint64) {
	if h.is64 {
		binary.LittleEndian.PutUint64(d[addr:], v)
	} else {
		binary.LittleEndian.PutUint32(d[addr:], uint32(v))
	}
}

func (h *instance) getPtr(d []byte, addr uint64) uint64 {
	if h.is64 {
		return binary.LittleEndian.Uint64(d[addr:])
	}
	return uint64(binary.LittleEndian.Uint32(d[addr:]))
}

func (h *instance) ptrSize() uint64 {
	if h.is64 {
		return 8
	}
	return 4
}

// cstring reads a NUL-terminated string.
func cstring(d []byte, p uint64) string {
	if p >= uint64(len(d)) {
		return ""
	}
	for i := p; i < uint64(len(d)); i++ {
		if d[i] == 0 {
			return string(d[p:i])
		}
	}
	return string(d[p:])
}

// inBounds reports whether [p, p+n) lies inside memory.
func inBounds(d []byte, p, n uint64) bool { return p <= uint64(len(d)) && n <= uint64(len(d))-p }

var errOOB = errors.New("memory access out of bounds")

// iovecs calls f with the buffer of each of the cnt iovecs at iov in turn
// until f is done; false (a trap) when an iovec or its buffer leaves d.
func (h *instance) iovecs(d []byte, iov, cnt uint64, f func(b []byte) (done bool)) bool {
	for range cnt {
		if !inBounds(d, iov, 2*h.ptrSize()) {
			return false
		}
		p, l := h.getPtr(d, iov), h.getPtr(d, iov+h.ptrSize())
		iov += 2 * h.ptrSize()
		if !inBounds(d, p, l) {
			return false
		}
		if f(d[p : p+l]) {
			return true
		}
	}
	return true
}

func (h *instance) hostFuncs() map[string]hostFn {
	m := map[string]hostFn{}
	m["_emscripten_throw_longjmp"] = func(a []uint64) (int64, error) {
		return 0, h.trapWith(errLongjmp)
	}
	m["emscripten_date_now"] = func(a []uint64) (int64, error) {
		v := h.clock
		h.clock++
		return int64(math.Float64bits(v)), nil
	}
	m["emscripten_get_now"] = m["emscripten_date_now"]
	m["_emscripten_get_now_is_monotonic"] = func(a []uint64) (int64, error) { return 1, nil }
	m["emscripten_get_heap_max"] = func(a []uint64) (int64, error) {
		return int64(h.spec.heapMax), nil
	}
	m["emscripten_resize_heap"] = func(a []uint64) (int64, error) {
		if h.resizeHeap(a[0]) {
			return 1, nil
		}
		return 0, nil
	}
	m["_emscripten_memcpy_js"] = func(a []uint64) (int64, error) {
		d := h.data()
		dst, src, n := a[0], a[1], a[2]
		if !inBounds(d, dst, n) || !inBounds(d, src, n) {
			return 0, h.trapWith(errOOB)
		}
		copy(d[dst:dst+n], d[src:src+n])
		return 0, nil
	}
	m["_abort_js"] = func(a []uint64) (int64, error) {
		return 0, h.trapWith(&abortError{"Aborted(native code called abort())"})
	}
	m["__assert_fail"] = func(a []uint64) (int64, error) {
		d := h.data()
		file, fn := "unknown filename", "unknown function"
		if p := a[1]; p != 0 {
			file = cstring(d, p)
		}
		if p := a[3]; p != 0 {
			fn = cstring(d, p)
		}
		return 0, h.trapWith(&abortError{fmt.Sprintf("Aborted(Assertion failed: %s, at: %s,%d,%s)", cstring(d, a[0]), file, int32(a[2]), fn)})
	}
	m["__cxa_throw"] = func(a []uint64) (int64, error) {
		return 0, h.trapWith(&abortError{"C++ exception thrown (not supported by ao modules)"})
	}
	m["exit"] = func(a []uint64) (int64, error) {
		// exitJS runs checkUnflushedContent(), which calls fflush(0) first.
		if f := h.exportFunc("fflush"); f != nil {
			if _, err := h.callPtr(f, 0); err != nil {
				return 0, h.trapErr(err)
			}
		}
		return 0, h.trapWith(&exitError{int32(a[0])})
	}
	m["_emscripten_system"] = func(a []uint64) (int64, error) {
		if a[0] == 0 {
			return 0, nil
		}
		return -errnoNOSYS, nil
	}
	m["emscripten_err"] = func(a []uint64) (int64, error) {
		h.log(cstring(h.data(), a[0]) + "\n")
		return 0, nil
	}
	m["environ_sizes_get"] = func(a []uint64) (int64, error) {
		// 0.0.47+ patch getEnvStrings() to return []; 0.0.44 gives the
		// emscripten defaults. Count and size are size_t (u64 on wasm64).
		var count, size uint64
		if h.mod.eng.profile.envStrings {
			env := environStrings(h.mod.eng.thisProgram)
			count = uint64(len(env))
			for _, s := range env {
				size += uint64(len(s)) + 1
			}
		}
		d, pc, ps := h.data(), a[0], a[1]
		if !inBounds(d, pc, h.ptrSize()) || !inBounds(d, ps, h.ptrSize()) {
			return 0, h.trapWith(errOOB)
		}
		h.putPtr(d, pc, count)
		h.putPtr(d, ps, size)
		return 0, nil
	}
	m["environ_get"] = func(a []uint64) (int64, error) {
		if !h.mod.eng.profile.envStrings {
			return 0, nil
		}
		d, environ, buf := h.data(), a[0], a[1]
		for i, s := range environStrings(h.mod.eng.thisProgram) {
			slot := environ + uint64(i)*h.ptrSize()
			if !inBounds(d, slot, h.ptrSize()) || !inBounds(d, buf, uint64(len(s))+1) {
				return 0, h.trapWith(errOOB)
			}
			h.putPtr(d, slot, buf)
			buf += uint64(copy(d[buf:], s))
			d[buf] = 0
			buf++
		}
		return 0, nil
	}
	m["fd_write"] = func(a []uint64) (int64, error) {
		d := h.data()
		fd, iov, cnt, pnum := int32(a[0]), a[1], a[2], a[3]
		_, drive := h.files[fd]
		var s *fsStream
		if !drive {
			var err error
			if s, err = h.stream(fd); err != nil {
				return h.fdResult(err)
			}
		}
		var total uint64
		var werr error
		if !h.iovecs(d, iov, cnt, func(b []byte) (done bool) {
			if drive {
				total += uint64(len(b))
				return false
			}
			n, err := h.fs.write(s, b, func(b []byte) { h.log(string(b)) })
			total += uint64(n)
			werr = err
			return err != nil
		}) {
			return 0, h.trapWith(errOOB)
		}
		if werr != nil {
			return h.fdResult(werr)
		}
		h.putPtr(d, pnum, total)
		return 0, nil
	}
	m["fd_read"] = func(a []uint64) (int64, error) {
		// Drive files are read through __asyncjs__weavedrive_read.
		d := h.data()
		fd, iov, cnt, pnum := int32(a[0]), a[1], a[2], a[3]
		if _, drive := h.files[fd]; drive {
			h.putPtr(d, pnum, 0)
			return 0, nil
		}
		s, err := h.stream(fd)
		if err != nil {
			return h.fdResult(err)
		}
		var total uint64
		var rerr error
		if !h.iovecs(d, iov, cnt, func(b []byte) (done bool) {
			n, err := h.fs.read(s, b)
			if rerr = err; err != nil {
				return true
			}
			total += uint64(n)
			return n < len(b) // a short read ends it
		}) {
			return 0, h.trapWith(errOOB)
		}
		if rerr != nil {
			return h.fdResult(rerr)
		}
		h.putPtr(d, pnum, total)
		return 0, nil
	}
	m["fd_seek"] = h.fdSeek
	m["fd_close"] = func(a []uint64) (int64, error) {
		fd := int32(a[0])
		if _, drive := h.files[fd]; drive {
			delete(h.files, fd)
			return 0, nil
		}
		s, err := h.stream(fd)
		if err != nil {
			return h.fdResult(err)
		}
		h.fs.close(s)
		return 0, nil
	}
	m["fd_sync"] = func(a []uint64) (int64, error) {
		if _, ok := h.fdType(int32(a[0])); !ok {
			return errnoBADF, nil
		}
		return 0, nil // MEMFS has no syncfs: the glue's wakeUp(0) is synchronous
	}
	m["fd_fdstat_get"] = func(a []uint64) (int64, error) {
		typ, ok := h.fdType(int32(a[0]))
		if !ok {
			return errnoBADF, nil
		}
		d := h.data()
		p := a[1]
		if !inBounds(d, p, 24) {
			return 0, h.trapWith(errOOB)
		}
		d[p] = typ
		binary.LittleEndian.PutUint16(d[p+2:], 0)
		binary.LittleEndian.PutUint64(d[p+8:], 0)
		binary.LittleEndian.PutUint64(d[p+16:], 0)
		return 0, nil
	}
	m["__syscall_ioctl"] = h.ioctl
	m["__syscall_fcntl64"] = func(a []uint64) (int64, error) {
		// The lock commands are F_GETLK/F_SETLK/F_SETLKW = 5/6/7 in the wasm64
		// glue and 12/13/14 (the *64 variants) in the wasm32 one.
		if h.is64 {
			return h.fcntl64(a, 5, 6, 7)
		}
		return h.fcntl64(a, 12, 13, 14)
	}
	h.memfsHostFuncs(m)
	m["__syscall_getcwd"] = func(a []uint64) (int64, error) {
		d := h.data()
		p, size := a[0], a[1]
		if size == 0 {
			return -errnoINVAL, nil
		}
		if size < 2 {
			return -errnoRANGE, nil // cwd "/" needs 2 bytes
		}
		if !inBounds(d, p, 2) {
			return 0, h.trapWith(errOOB)
		}
		d[p], d[p+1] = '/', 0
		return 2, nil
	}
	m["_munmap_js"] = func(a []uint64) (int64, error) { return 0, nil }
	m["_tzset_js"] = func(a []uint64) (int64, error) {
		// UTC: timezone 0, no daylight saving, both names "UTC".
		d := h.data()
		h.putPtr(d, a[0], 0)
		binary.LittleEndian.PutUint32(d[a[1]:], 0)
		copy(d[a[2]:], "UTC\x00")
		copy(d[a[3]:], "UTC\x00")
		return 0, nil
	}
	m["_gmtime_js"] = func(a []uint64) (int64, error) {
		t, tm := h.timeArg(a)
		h.writeJSTm(h.data(), tm, t, false)
		return 0, nil
	}
	m["_localtime_js"] = func(a []uint64) (int64, error) {
		t, tm := h.timeArg(a)
		if !h.writeJSTm(h.data(), tm, t, true) && h.is64 {
			// HEAP64[gmtoff] = BigInt(-(NaN * 60)) throws in the wasm64 glue.
			return 0, h.trapWith(&abortError{"The number NaN cannot be converted to a BigInt because it is not an integer"})
		}
		return 0, nil
	}
	m["_mktime_js"] = func(a []uint64) (int64, error) {
		t := h.mktime(h.data(), a[0])
		if !h.is64 {
			// Legalised i64 return: the high half goes through tempRet0.
			if f := h.exportFunc("_emscripten_tempret_set"); f != nil {
				if _, err := h.callPtr(f, uint64(t.Unix())>>32); err != nil {
					return 0, h.trapErr(err)
				}
			}
		}
		return t.Unix(), nil
	}
	m["strftime"] = h.strftime
	m["strftime_l"] = h.strftime
	m["__asyncjs__weavedrive_open"] = h.driveOpen
	m["__asyncjs__weavedrive_read"] = h.driveRead
	m["__asyncjs__weavedrive_close"] = h.driveClose
	m["metering_gasUsed"] = func(a []uint64) (int64, error) {
		return int64(math.Float64bits(h.gasUsed())), nil
	}
	usegas64 := false
	var imports []importDecl
	if h.mod != nil {
		imports = h.mod.imports
	}
	for _, d := range imports {
		if d.module == "metering" && d.name == "usegas" && len(d.params) > 0 {
			usegas64 = d.paramIs64(0)
		}
	}
	m["usegas"] = func(a []uint64) (int64, error) {
		if h.vm.gasInline() {
			// Inlined metering calls here only past the limit, with the
			// amount already counted.
			if h.gasUsed() > h.gas.Limit {
				return 0, h.trapWith(&abortError{metering.ErrOutOfGas.Error()})
			}
			return 0, nil
		}
		// The glue receives an i32 as a signed JS number, an i64 as a BigInt.
		n := int64(0)
		if usegas64 {
			n = int64(a[0])
		} else {
			n = int64(int32(a[0]))
		}
		if err := h.gas.Use(n); err != nil {
			return 0, h.trapWith(&abortError{err.Error()})
		}
		return 0, nil
	}
	return m
}

// fcntl64 is ___syscall_fcntl64 with the glue's numbers for the lock commands.
func (h *instance) fcntl64(a []uint64, getLk, setLk, setLkW int32) (int64, error) {
	fd, cmd := int32(a[0]), int32(a[1])
	if _, ok := h.fdType(fd); !ok {
		return -errnoBADF, nil
	}
	s := h.fs.streams[fd] // nil for a WeaveDrive file
	switch cmd {
	case 0: // F_DUPFD: the lowest free fd from arg
		if s == nil {
			return -errnoINVAL, nil // WeaveDrive files: as before
		}
		arg := int32(h.varargI32(a[2]))
		if arg < 0 {
			return -errnoINVAL, nil
		}
		for h.fs.streams[arg] != nil || h.driveTaken(arg) {
			arg++
		}
		return int64(h.fs.dup(s, arg).fd), nil
	case 1, 2, setLk, setLkW: // F_GETFD, F_SETFD, F_SETLK, F_SETLKW
		return 0, nil
	case 3: // F_GETFL: O_RDONLY for drive files; the stream's flags
		if s == nil {
			return 0, nil
		}
		return int64(s.shared.flags), nil
	case 4: // F_SETFL: the glue ORs the argument in
		if s != nil {
			s.shared.flags |= int32(h.varargI32(a[2]))
		}
		return 0, nil
	case getLk: // l_type = F_UNLCK
		return 0, h.storeVararg(a[2], 2, 2)
	}
	return -errnoINVAL, nil
}

// varargI32 reads syscallGetVarargI(): the i32 at the varargs pointer.
func (h *instance) varargI32(v uint64) uint32 {
	d := h.data()
	p := v
	if !inBounds(d, p, 4) {
		return 0
	}
	return binary.LittleEndian.Uint32(d[p:])
}

// fdType is the WASI file type of an open fd: 2 (character device) for the
// glue's TTY streams, 4 for every other stream (the glue tests stream.mode,
// which streams do not have) and for a WeaveDrive file; false: no such fd.
func (h *instance) fdType(fd int32) (byte, bool) {
	if _, ok := h.files[fd]; ok {
		return 4, true
	}
	s := h.fs.streams[fd]
	if s == nil {
		return 0, false
	}
	if s.tty() {
		return 2, true
	}
	return 4, true
}

// vararg reads the first variadic argument (a pointer) of a syscall.
func (h *instance) vararg(v uint64) uint64 {
	d := h.data()
	p := v
	if !inBounds(d, p, h.ptrSize()) {
		return 0
	}
	return h.getPtr(d, p)
}

// storeVararg stores v as a little-endian integer of size bytes (2 or 4) where
// the syscall's first variadic argument points.
func (h *instance) storeVararg(arg uint64, size uint64, v uint32) error {
	d := h.data()
	p := h.vararg(arg)
	if !inBounds(d, p, size) {
		return h.trapWith(errOOB)
	}
	if size == 2 {
		binary.LittleEndian.PutUint16(d[p:], uint16(v))
	} else {
		binary.LittleEndian.PutUint32(d[p:], v)
	}
	return nil
}

// timeArg decodes (time_t, tm*) in both ABIs: wasm64 (i64, p) and the legalised
// wasm32 (lo, hi, tm).
func (h *instance) timeArg(a []uint64) (int64, uint64) {
	if len(a) == 3 {
		return int64(uint64(uint32(int32(a[0]))) | uint64(int32(a[1]))<<32), a[2]
	}
	return int64(a[0]), a[1]
}

// maxJSTimeMs is the largest |time value| of a JavaScript Date (TimeClip).
const maxJSTimeMs = 8.64e15

// jsDateValid reports whether new Date(t * 1e3) is a valid Date: t passed the
// glue's I53 check (|t| <= 2^53-1) and |t*1e3| <= 8.64e15.
func jsDateValid(t int64) bool {
	return t >= -(1<<53-1) && t <= 1<<53-1 && math.Abs(float64(t)*1e3) <= maxJSTimeMs
}

// jsDateUTC is Date.UTC(year, 0, 1) in ms: years 0-99 mean 1900-1999; false
// when the result is beyond a Date's range (NaN).
func jsDateUTC(year int) (float64, bool) {
	if year >= 0 && year <= 99 {
		year += 1900
	}
	ms := float64(time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) * 1e3
	return ms, math.Abs(ms) <= maxJSTimeMs
}

// writeJSTm is the glue's __gmtime_js / __localtime_js under TZ=UTC with
// JavaScript's Date: an invalid Date (beyond ±8.64e15 ms) reads NaN in every
// field, which HEAP32 stores as 0; gmtime's yday is measured from
// Date.UTC(year, 0, 1), which maps years 0-99 to 1900-1999. It reports whether
// the Date was valid.
func (h *instance) writeJSTm(d []byte, p uint64, t int64, local bool) bool {
	if !jsDateValid(t) {
		n := uint64(32)
		if local {
			n = 36
		}
		clear(d[p : p+n])
		if local && !h.is64 {
			binary.LittleEndian.PutUint32(d[p+36:], 0)
		}
		return false
	}
	tt := time.Unix(t, 0).UTC()
	h.writeTm(d, p, tt, local)
	if !local {
		yday := int32(0)
		if start, ok := jsDateUTC(tt.Year()); ok {
			yday = int32(int64(math.Trunc((float64(t)*1e3 - start) / 864e5))) // (x / day) | 0
		}
		binary.LittleEndian.PutUint32(d[p+28:], uint32(yday))
	}
	return true
}

// mktime is the common part of the glues' __mktime_js under TZ=UTC: the time
// of the struct tm at p, normalised back into it; tm_isdst < 0 becomes 0. As
// new Date(y, mon, mday, h, m, s) does, a year 0-99 means 1900-1999; beyond a
// Date's range every field reads NaN (stored as 0) and the result is -1.
func (h *instance) mktime(d []byte, p uint64) time.Time {
	r := func(off uint64) int { return int(int32(binary.LittleEndian.Uint32(d[p+off:]))) }
	year := r(20) + 1900
	if year >= 0 && year <= 99 {
		year += 1900
	}
	t := time.Date(year, time.Month(r(16)+1), r(12), r(8), r(4), r(0), 0, time.UTC)
	if r(32) < 0 {
		binary.LittleEndian.PutUint32(d[p+32:], 0)
	}
	if math.Abs(float64(t.Unix())*1e3) > maxJSTimeMs {
		clear(d[p : p+32])
		return time.Unix(-1, 0)
	}
	h.writeTm(d, p, t, false)
	return t
}

// writeTm fills a struct tm as the glue does: gmtime writes the first eight
// fields, localtime also tm_isdst and tm_gmtoff (UTC: 0).
func (h *instance) writeTm(d []byte, p uint64, t time.Time, local bool) {
	w := func(off uint64, v int) { binary.LittleEndian.PutUint32(d[p+off:], uint32(int32(v))) }
	w(0, t.Second())
	w(4, t.Minute())
	w(8, t.Hour())
	w(12, t.Day())
	w(16, int(t.Month())-1)
	w(20, t.Year()-1900)
	w(24, int(t.Weekday()))
	w(28, t.YearDay()-1)
	if local {
		if h.is64 {
			binary.LittleEndian.PutUint64(d[p+40:], 0)
		} else {
			binary.LittleEndian.PutUint32(d[p+36:], 0)
		}
		w(32, 0)
	}
}

// resizeHeap is emscripten_resize_heap of the glue, byte for byte: grow by up to
// 20% (then 10%, 5%), capped at requested+96 MiB, aligned to 64 KiB.
func (h *instance) resizeHeap(requested uint64) bool {
	old := h.memSize()
	heapMax := h.spec.heapMax
	if requested > heapMax {
		return false
	}
	for cut := 1.0; cut <= 4; cut *= 2 {
		pages, newSize := heapGrowth(old, requested, heapMax, cut)
		if _, err := h.growPages(pages); err == nil {
			return true
		}
		h.log(fmt.Sprintf("growMemory: Attempted to grow heap from %d bytes to %d bytes, but got error: RangeError: WebAssembly.Memory.grow(): Maximum memory size exceeded\n", old, newSize))
	}
	return false
}

// heapGrowth is the glue's growth rule for one attempt (cut 1, 2, 4): the
// wasm pages to grow from old bytes for a request of requested bytes, and
// the size asked for.
func heapGrowth(old, requested, heapMax uint64, cut float64) (pages, newSize uint64) {
	alignUp := func(x float64) float64 { return x + math.Mod(65536-math.Mod(x, 65536), 65536) }
	req := float64(requested)
	over := float64(old) * (1 + 0.2/cut)
	over = math.Min(over, req+100663296)
	size := math.Min(float64(heapMax), alignUp(math.Max(req, over)))
	return uint64(math.Floor((size - float64(old) + 65535) / 65536)), uint64(size)
}

// ioctl mirrors ___syscall_ioctl for the glue's TTYs (fds 0-2); other streams
// are not TTYs.
func (h *instance) ioctl(a []uint64) (int64, error) {
	fd, op := int32(a[0]), int32(a[1])
	typ, ok := h.fdType(fd)
	if !ok {
		return -errnoBADF, nil
	}
	tty := typ == 2
	switch op {
	case 21509, 21510, 21511, 21512, 21524, 21515: // TCGETA, TCSETA*, TIOCSWINSZ, TCFLSH
		if !tty {
			return -errnoNOTTY, nil
		}
		return 0, nil
	case 21505: // TCGETS
		if !tty {
			return -errnoNOTTY, nil
		}
		d := h.data()
		p := h.vararg(a[2])
		if !inBounds(d, p, 17+32) {
			return 0, h.trapWith(errOOB)
		}
		binary.LittleEndian.PutUint32(d[p:], 25856)
		binary.LittleEndian.PutUint32(d[p+4:], 5)
		binary.LittleEndian.PutUint32(d[p+8:], 191)
		binary.LittleEndian.PutUint32(d[p+12:], 35387)
		cc := []byte{3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22}
		for i := 0; i < 32; i++ {
			var v byte
			if i < len(cc) {
				v = cc[i]
			}
			d[p+17+uint64(i)] = v
		}
		return 0, nil
	case 21506, 21507, 21508: // TCSETS*
		if !tty {
			return -errnoNOTTY, nil
		}
		return 0, nil
	case 21519: // TIOCGPGRP
		if !tty {
			return -errnoNOTTY, nil
		}
		return 0, h.storeVararg(a[2], 4, 0)
	case 21520: // TIOCSPGRP
		if !tty {
			return -errnoNOTTY, nil
		}
		return -errnoINVAL, nil
	case 21523: // TIOCGWINSZ: 24 rows, 80 columns
		if !tty {
			return -errnoNOTTY, nil
		}
		d := h.data()
		p := h.vararg(a[2])
		if !inBounds(d, p, 4) {
			return 0, h.trapWith(errOOB)
		}
		binary.LittleEndian.PutUint16(d[p:], 24)
		binary.LittleEndian.PutUint16(d[p+2:], 80)
		return 0, nil
	case 21531: // FIONREAD
		return -errnoNOTTY, nil
	}
	return -errnoINVAL, nil
}

// legacyHostFuncs are the host functions that only the old glues need, by
// their legacy_* canonical names (legacyImportName); legacyOnlyImports says
// what each does and docs/legacy-formats.md gives the evidence. modern is
// hostFuncs(), which some of them adapt.
func (h *instance) legacyHostFuncs(modern map[string]hostFn) map[string]hostFn {
	ret := func(v int64) hostFn {
		return func([]uint64) (int64, error) { return v, nil }
	}
	abort := func(msg string) hostFn {
		return func([]uint64) (int64, error) { return 0, h.trapWith(&abortError{msg}) }
	}
	// __gmtime_js/__localtime_js(time_t *time, tm): the modern functions on
	// the signed 32-bit time at *time.
	timePtr := func(fn hostFn) hostFn {
		return func(a []uint64) (int64, error) {
			d, p := h.data(), a[0]
			if !inBounds(d, p, 4) || !inBounds(d, a[1], 40) {
				return 0, h.trapWith(errOOB)
			}
			t := int32(binary.LittleEndian.Uint32(d[p:]))
			return fn([]uint64{uint64(uint32(t)), uint64(uint32(t >> 31)), a[1]})
		}
	}
	m := map[string]hostFn{
		"legacy_path_enoent":          ret(-errnoNOENT),
		"legacy_fd_ebadf":             ret(-errnoBADF),
		"legacy_date_now_zero":        ret(0),
		"legacy_get_now_nan":          ret(legacyNaNBits),
		"legacy_noop":                 ret(0),
		"legacy_syscall_zero":         ret(0),
		"legacy_fd_close_enosys":      ret(errnoNOSYS),
		"legacy_fd_read_enosys":       ret(errnoNOSYS),
		"legacy_fd_seek_espipe":       ret(errnoSPIPE),
		"legacy_abort_em1":            abort("Aborted(). Build with -sASSERTIONS for more info."),
		"legacy_dlopen_abort":         abort("Aborted(To use dlopen, you need enable dynamic linking, see https://github.com/emscripten-core/emscripten/wiki/Linking)"),
		"legacy_gmtime_js_timeptr":    timePtr(modern["_gmtime_js"]),
		"legacy_localtime_js_timeptr": timePtr(modern["_localtime_js"]),
	}
	m["legacy_getTempRet0"] = func(a []uint64) (int64, error) {
		return int64(h.tempRet0), nil
	}
	m["legacy_setTempRet0"] = func(a []uint64) (int64, error) {
		h.tempRet0 = int32(a[0])
		return 0, nil
	}
	m["legacy_mktime_js_i32"] = func(a []uint64) (int64, error) {
		d, p := h.data(), a[0]
		if !inBounds(d, p, 36) {
			return 0, h.trapWith(errOOB)
		}
		year := binary.LittleEndian.Uint32(d[p+20:])
		t := h.mktime(d, p)
		binary.LittleEndian.PutUint32(d[p+20:], year) // the old glues do not write tm_year
		return int64(int32(t.Unix())), nil            // (ms/1000)|0, no tempRet0
	}
	m["legacy_tzset_js_malloc"] = func(a []uint64) (int64, error) {
		if h.tzsetDone {
			return 0, nil
		}
		h.tzsetDone = true
		d := h.data()
		tz, daylight, tzname := a[0], a[1], a[2]
		if !inBounds(d, tz, 4) || !inBounds(d, daylight, 4) {
			return 0, h.trapWith(errOOB)
		}
		binary.LittleEndian.PutUint32(d[tz:], 0)
		binary.LittleEndian.PutUint32(d[daylight:], 0)
		var names [2]uint64 // allocateUTF8 of the winter name, then of the summer name
		for i := range names {
			p, err := h.callPtr(h.ex.malloc, uint64(len(legacyTZName))+1)
			if err != nil {
				return 0, h.trapErr(err)
			}
			if d = h.data(); p != 0 {
				if !inBounds(d, p, uint64(len(legacyTZName))+1) {
					return 0, h.trapWith(errOOB)
				}
				copy(d[p:], legacyTZName+"\x00")
			}
			names[i] = p
		}
		if !inBounds(d, tzname, 8) {
			return 0, h.trapWith(errOOB)
		}
		binary.LittleEndian.PutUint32(d[tzname:], uint32(names[1]))
		binary.LittleEndian.PutUint32(d[tzname+4:], uint32(names[0]))
		return 0, nil
	}
	m["legacy_tzset_js_em3"] = func(a []uint64) (int64, error) {
		d := h.data()
		tz, daylight, std, dst := a[0], a[1], a[2], a[3]
		name := legacyTZName[:6] + "\x00" // stringToUTF8(name, p, 7)
		if !inBounds(d, tz, 4) || !inBounds(d, daylight, 4) || !inBounds(d, std, 7) || !inBounds(d, dst, 7) {
			return 0, h.trapWith(errOOB)
		}
		binary.LittleEndian.PutUint32(d[tz:], 0)
		binary.LittleEndian.PutUint32(d[daylight:], 0)
		copy(d[dst:], name)
		copy(d[std:], name)
		return 0, nil
	}
	m["legacy_system_errno"] = func(a []uint64) (int64, error) {
		if a[0] == 0 {
			return 0, nil
		}
		return -1, h.setErrno(errnoNOSYS)
	}
	m["legacy_fcntl64_em2"] = func(a []uint64) (int64, error) {
		if _, ok := h.fdType(int32(a[0])); ok && int32(a[1]) == 9 { // F_GETOWN_EX
			return -1, h.setErrno(errnoINVAL)
		}
		return h.fcntl64(a, 5, 6, 7)
	}
	m["legacy_ioctl_em2"] = func(a []uint64) (int64, error) {
		fd, op := a[0], int32(a[1])
		switch op {
		case 21505, 21523: // TCGETS, TIOCGWINSZ: succeed on a TTY but write nothing
			op = 21509 // TCGETA: the same checks and result
		case 21509, 21510, 21511, 21512, 21506, 21507, 21508, 21524, 21519, 21520, 21531:
		default:
			if _, ok := h.fdType(int32(fd)); !ok {
				return -errnoBADF, nil
			}
			return 0, h.trapWith(&abortError{fmt.Sprintf("Aborted(bad ioctl syscall %d)", op)})
		}
		return h.ioctl([]uint64{fd, uint64(uint32(op)), a[2]})
	}
	m["legacy_fd_fdstat_get_em2"] = func(a []uint64) (int64, error) {
		typ, ok := h.fdType(int32(a[0]))
		if !ok {
			return errnoBADF, nil
		}
		d, p := h.data(), a[1]
		if !inBounds(d, p, 1) {
			return 0, h.trapWith(errOOB)
		}
		d[p] = typ // flags and rights are left as they are
		return 0, nil
	}
	m["legacy_mmap_em2"] = func(a []uint64) (int64, error) {
		return h.mmapStream(int32(a[3]), int32(a[1]), int32(a[2])), nil
	}
	m["legacy_mmap_em3"] = func(a []uint64) (int64, error) {
		// convertI32PairToI53Checked: an offset beyond 2^53 is NaN -> 61.
		lo, hi := int32(a[4]), int32(a[5])
		limit := uint32(0x400001)
		if lo != 0 {
			limit--
		}
		if uint32(hi+0x200000) >= limit {
			return 61, nil
		}
		return h.mmapStream(int32(a[3]), int32(a[1]), int32(a[2])), nil
	}
	m["legacy_environ_sizes_get"] = func(a []uint64) (int64, error) {
		env := environStrings(h.mod.eng.thisProgram)
		size := 0
		for _, s := range env {
			size += len(s) + 1
		}
		d, count, bufSize := h.data(), a[0], a[1]
		if !inBounds(d, count, 4) || !inBounds(d, bufSize, 4) {
			return 0, h.trapWith(errOOB)
		}
		binary.LittleEndian.PutUint32(d[count:], uint32(len(env)))
		binary.LittleEndian.PutUint32(d[bufSize:], uint32(size))
		return 0, nil
	}
	m["legacy_environ_get"] = func(a []uint64) (int64, error) {
		d, environ, buf := h.data(), a[0], a[1]
		for i, s := range environStrings(h.mod.eng.thisProgram) {
			if !inBounds(d, environ+4*uint64(i), 4) || !inBounds(d, buf, uint64(len(s))+1) {
				return 0, h.trapWith(errOOB)
			}
			binary.LittleEndian.PutUint32(d[environ+4*uint64(i):], uint32(buf))
			buf += uint64(copy(d[buf:], s))
			d[buf] = 0
			buf++
		}
		return 0, nil
	}
	m["legacy_fd_write_em1"] = func(a []uint64) (int64, error) {
		d := h.data()
		fd, iov, cnt, pnum := int32(a[0]), a[1], a[2], a[3]
		var total uint64
		for i := uint64(0); i < cnt; i, iov = i+1, iov+8 {
			if !inBounds(d, iov, 8) {
				return 0, h.trapWith(errOOB)
			}
			p, l := h.getPtr(d, iov), h.getPtr(d, iov+4)
			if !inBounds(d, p, l) {
				return 0, h.trapWith(errOOB)
			}
			if l > 0 && fd != 1 && fd != 2 {
				// printChar(fd, byte): printCharBuffers[fd] is null for
				// stdin and undefined beyond stderr.
				what, prop := "undefined", "push"
				if fd == 0 {
					what = "null"
				}
				if d[p] == 0 || d[p] == 10 {
					prop = "0"
				}
				return 0, h.trapWith(&abortError{fmt.Sprintf("Cannot read properties of %s (reading '%s')", what, prop)})
			}
			h.log(string(d[p : p+l]))
			total += l
		}
		if !inBounds(d, pnum, 4) {
			return 0, h.trapWith(errOOB)
		}
		binary.LittleEndian.PutUint32(d[pnum:], uint32(total))
		return 0, nil
	}
	return m
}

// setErrno is the old glues' setErrNo(v): errno through the export
// __errno_location.
func (h *instance) setErrno(v int32) error {
	p, err := h.callPtr(h.ex.errnoLocation)
	if err != nil {
		return h.trapErr(err)
	}
	d := h.data()
	if !inBounds(d, p, 4) {
		return h.trapWith(errOOB)
	}
	binary.LittleEndian.PutUint32(d[p:], uint32(v))
	return nil
}

// mmapStream is FS.mmap of the old glues for the streams the Go host has, none
// of which has an mmap operation: -EBADF for an unknown fd; -EACCES for a
// writable shared mapping of a stream not opened O_RDWR and for the write-only
// stdout/stderr; else -ENODEV.
func (h *instance) mmapStream(fd, prot, flags int32) int64 {
	if _, ok := h.fdType(fd); !ok {
		return -errnoBADF
	}
	access := int32(0) // stream.flags & O_ACCMODE: drive files O_RDONLY
	if s := h.fs.streams[fd]; s != nil {
		access = s.shared.flags & oAccMode
	}
	if prot&2 != 0 && flags&2 == 0 && access != 2 || access == 1 {
		return -2
	}
	return -43
}
