package loader

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The glue's syscalls on its file system (memfs.go): ___syscall_* of the
// wasm64 / emscripten4 / emscripten3 glues, which share them but for how
// 64-bit values cross (BigInt on wasm64, i32 pairs on wasm32) and the stat
// layout. WeaveDrive files (drive.go) share the fd space and keep their own
// behaviour.

// tick is the glue's Date.now(): the counter the wasm also reads.
func (h *instance) tick() float64 {
	v := h.clock
	h.clock++
	return v
}

// sysResult turns an FS error into a syscall result: -errno, or a rejection
// of handle() for a JavaScript exception.
func (h *instance) sysResult(v int64, err error) (int64, error) {
	switch e := err.(type) {
	case nil:
		return v, nil
	case fsErrno:
		return -int64(e), nil
	case *fsTypeError:
		return 0, h.trapWith(&abortError{e.msg})
	default:
		return 0, h.trapWith(err)
	}
}

// fdResult is sysResult for the wasi fd_* functions, which return errno.
func (h *instance) fdResult(err error) (int64, error) {
	if e, ok := err.(fsErrno); ok {
		return int64(e), nil
	}
	return h.sysResult(0, err)
}

// glueAbort is the glue's abort(what) (and a failed assert).
func (h *instance) glueAbort(what string) (int64, error) {
	return 0, h.trapWith(&abortError{"Aborted(" + what + ")"})
}

func (h *instance) str(v uint64) string {
	return cstring(h.data(), v)
}

// stream is FS.getStreamChecked.
func (h *instance) stream(fd int32) (*fsStream, error) {
	if s := h.fs.streams[fd]; s != nil {
		return s, nil
	}
	return nil, fsErrno(errnoBADF)
}

// driveTaken reports the fds WeaveDrive files hold (FS.nextfd skips them).
func (h *instance) driveTaken(fd int32) bool { _, ok := h.files[fd]; return ok }

// atPath is SYSCALLS.calculateAt.
func (h *instance) atPath(dirfd int32, path string, allowEmpty bool) (string, error) {
	if strings.HasPrefix(path, "/") {
		return path, nil
	}
	dir := "/"
	if dirfd != -100 {
		s, err := h.stream(dirfd)
		if err != nil {
			return "", err
		}
		dir = s.path
	}
	if path == "" {
		if !allowEmpty {
			return "", fsErrno(errnoNOENT)
		}
		return dir, nil
	}
	return pathJoin2(dir, path), nil
}

// i53 is bigintToI53Checked / convertI32PairToI53Checked of a 64-bit
// argument starting at a[i]: false when the glue would see NaN. It returns
// the index after the argument.
func (h *instance) i53(a []uint64, i int) (float64, bool, int) {
	if h.is64 {
		v := int64(a[i])
		if v < -(1<<53-1) || v > 1<<53-1 {
			return 0, false, i + 1
		}
		return float64(v), true, i + 1
	}
	lo, hi := int32(a[i]), int32(a[i+1])
	limit := uint32(4194305)
	if lo != 0 {
		limit--
	}
	if uint32(hi+2097152) >= limit {
		return 0, false, i + 2
	}
	return float64(uint32(lo)) + float64(hi)*4294967296, true, i + 2
}

// memfsHostFuncs are the glue's file-system syscalls.
func (h *instance) memfsHostFuncs(m map[string]hostFn) {
	m["__syscall_openat"] = func(a []uint64) (int64, error) {
		path, err := h.atPath(int32(a[0]), h.str(a[1]), false)
		if err != nil {
			return h.sysResult(0, err)
		}
		mode := uint32(0)
		if p := a[3]; p != 0 {
			d := h.data()
			if inBounds(d, p, 4) {
				mode = binary.LittleEndian.Uint32(d[p:])
			}
		}
		s, err := h.fs.open(path, int32(a[2]), mode, h.driveTaken)
		if err != nil {
			return h.sysResult(0, err)
		}
		return int64(s.fd), nil
	}
	m["__syscall_unlinkat"] = func(a []uint64) (int64, error) {
		path, err := h.atPath(int32(a[0]), h.str(a[1]), false)
		if err != nil {
			return h.sysResult(0, err)
		}
		switch int32(a[2]) {
		case 0:
			return h.sysResult(0, h.fs.unlink(path))
		case 512:
			return h.sysResult(0, h.fs.rmdir(path))
		}
		return h.glueAbort("Invalid flags passed to unlinkat")
	}
	m["__syscall_rmdir"] = func(a []uint64) (int64, error) {
		return h.sysResult(0, h.fs.rmdir(h.str(a[0])))
	}
	m["__syscall_renameat"] = func(a []uint64) (int64, error) {
		oldPath, newPath := h.str(a[1]), h.str(a[3])
		oldPath, err := h.atPath(int32(a[0]), oldPath, false)
		if err != nil {
			return h.sysResult(0, err)
		}
		newPath, err = h.atPath(int32(a[2]), newPath, false)
		if err != nil {
			return h.sysResult(0, err)
		}
		return h.sysResult(0, h.fs.rename(oldPath, newPath))
	}
	m["__syscall_readlinkat"] = func(a []uint64) (int64, error) {
		path, err := h.atPath(int32(a[0]), h.str(a[1]), false)
		if err != nil {
			return h.sysResult(0, err)
		}
		buf := a[2]
		var size int64
		if h.is64 {
			size = int64(a[3])
		} else {
			size = int64(uint32(int32(a[3])))
		}
		if size <= 0 {
			return -errnoINVAL, nil
		}
		target, err := h.fs.readlink(path)
		if err != nil {
			return h.sysResult(0, err)
		}
		n := min(size, int64(len(target)))
		d := h.data()
		end := buf + uint64(n)
		var saved byte
		if end < uint64(len(d)) {
			saved = d[end]
		}
		// stringToUTF8(target, buf, size+1): whole characters that fit in
		// size bytes, then a NUL; the byte at buf+n is put back.
		out := buf
		for i := 0; i < len(target); {
			_, w := utf8.DecodeRuneInString(target[i:])
			if out+uint64(w) > buf+uint64(size) {
				break
			}
			for j := 0; j < w && out < uint64(len(d)); j++ {
				d[out] = target[i+j]
				out++
			}
			i += w
		}
		if out < uint64(len(d)) {
			d[out] = 0
		}
		if end < uint64(len(d)) {
			d[end] = saved
		}
		return n, nil
	}
	stat := func(path string, noFollow bool, buf uint64) (int64, error) {
		n, err := h.fs.stat(path, noFollow)
		if err != nil {
			return h.sysResult(0, err)
		}
		if tr := h.writeStat(h.data(), buf, n.stat()); tr != nil {
			return 0, tr
		}
		return 0, nil
	}
	m["__syscall_stat64"] = func(a []uint64) (int64, error) {
		return stat(h.str(a[0]), false, a[1])
	}
	m["__syscall_lstat64"] = func(a []uint64) (int64, error) {
		return stat(h.str(a[0]), true, a[1])
	}
	m["__syscall_fstat64"] = func(a []uint64) (int64, error) {
		if _, ok := h.files[int32(a[0])]; ok {
			return -errnoBADF, nil // WeaveDrive files: as before
		}
		s, err := h.stream(int32(a[0]))
		if err != nil {
			return h.sysResult(0, err)
		}
		return stat(s.path, false, a[1]) // by path, as the glue does
	}
	m["__syscall_newfstatat"] = func(a []uint64) (int64, error) {
		path := h.str(a[1])
		flags := int32(a[3])
		noFollow, allowEmpty := flags&256 != 0, flags&4096 != 0
		if rest := flags &^ 6400; rest != 0 {
			return h.glueAbort("Assertion failed: unknown flags in __syscall_newfstatat: " + strconv.Itoa(int(rest)))
		}
		path, err := h.atPath(int32(a[0]), path, allowEmpty)
		if err != nil {
			return h.sysResult(0, err)
		}
		return stat(path, noFollow, a[2])
	}
	m["__syscall_faccessat"] = func(a []uint64) (int64, error) {
		path := h.str(a[1])
		if int32(a[3]) != 0 {
			return h.glueAbort("Assertion failed")
		}
		path, err := h.atPath(int32(a[0]), path, false)
		if err != nil {
			return h.sysResult(0, err)
		}
		if int32(a[2])&^7 != 0 {
			return -errnoINVAL, nil
		}
		_, n, err := h.fs.lookupPath(path, lookupOpts{follow: true})
		if err != nil {
			return h.sysResult(0, err)
		}
		if n == nil {
			return -errnoNOENT, nil
		}
		return 0, nil
	}
	m["__syscall_chmod"] = func(a []uint64) (int64, error) {
		_, n, err := h.fs.lookupPath(h.str(a[0]), lookupOpts{follow: true})
		if err != nil {
			return h.sysResult(0, err)
		}
		if n == nil {
			return 0, h.trapWith(&abortError{"Cannot read properties of null (reading 'node_ops')"})
		}
		return h.sysResult(0, h.fs.setMode(n, uint32(int32(a[1]))))
	}
	m["__syscall_fchmod"] = func(a []uint64) (int64, error) {
		if _, ok := h.files[int32(a[0])]; ok {
			return -errnoBADF, nil
		}
		s, err := h.stream(int32(a[0]))
		if err != nil {
			return h.sysResult(0, err)
		}
		return h.sysResult(0, h.fs.setMode(s.node, uint32(int32(a[1]))))
	}
	m["__syscall_fchown32"] = func(a []uint64) (int64, error) {
		if _, ok := h.files[int32(a[0])]; ok {
			return -errnoBADF, nil
		}
		s, err := h.stream(int32(a[0]))
		if err != nil {
			return h.sysResult(0, err)
		}
		return h.sysResult(0, h.fs.touch(s.node))
	}
	m["__syscall_ftruncate64"] = func(a []uint64) (int64, error) {
		fd := int32(a[0])
		size, ok, _ := h.i53(a, 1)
		if !ok {
			return errnoOVERFL, nil
		}
		if _, drive := h.files[fd]; drive {
			return -errnoBADF, nil
		}
		s, err := h.stream(fd)
		if err != nil {
			return h.sysResult(0, err)
		}
		if s.shared.flags&oAccMode == 0 {
			return -errnoINVAL, nil
		}
		return h.sysResult(0, h.fs.truncate(s.node, size))
	}
	m["__syscall_mkdirat"] = func(a []uint64) (int64, error) {
		path, err := h.atPath(int32(a[0]), h.str(a[1]), false)
		if err != nil {
			return h.sysResult(0, err)
		}
		path = pathNormalize(path)
		path = strings.TrimSuffix(path, "/")
		_, err = h.fs.mkdir(path, uint32(int32(a[2])))
		return h.sysResult(0, err)
	}
	m["__syscall_utimensat"] = func(a []uint64) (int64, error) {
		path := h.str(a[1])
		if int32(a[3]) != 0 {
			return h.glueAbort("Assertion failed")
		}
		path, err := h.atPath(int32(a[0]), path, true)
		if err != nil {
			return h.sysResult(0, err)
		}
		var atime, mtime float64
		if times := a[2]; times == 0 {
			atime = h.tick()
			mtime = atime
		} else {
			d := h.data()
			read := func(p uint64) float64 {
				if !inBounds(d, p, 12) {
					return math.NaN()
				}
				sec := float64(binary.LittleEndian.Uint32(d[p:])) + float64(int32(binary.LittleEndian.Uint32(d[p+4:])))*4294967296
				return sec*1e3 + float64(int32(binary.LittleEndian.Uint32(d[p+8:])))/1e6
			}
			atime, mtime = read(times), read(times+16)
		}
		_, n, err := h.fs.lookupPath(path, lookupOpts{follow: true})
		if err != nil {
			return h.sysResult(0, err)
		}
		if n == nil || !n.hasAttr() {
			return 0, h.trapWith(&abortError{"Cannot read properties of undefined (reading 'setattr')"})
		}
		n.ts = jsMax(atime, mtime)
		return 0, nil
	}
	m["__syscall_dup3"] = func(a []uint64) (int64, error) {
		fd, newfd := int32(a[0]), int32(a[1])
		old, err := h.stream(fd)
		if err != nil {
			return h.sysResult(0, err)
		}
		if int32(a[2]) != 0 {
			return h.glueAbort("Assertion failed")
		}
		if fd == newfd {
			return -errnoINVAL, nil
		}
		if ex := h.fs.streams[newfd]; ex != nil {
			h.fs.close(ex)
		}
		delete(h.files, newfd)
		return int64(h.fs.dup(old, newfd).fd), nil
	}
}

func jsMax(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return math.Max(a, b)
}

// writeStat is SYSCALLS.doStat's layout: struct stat of wasm64 or wasm32.
// Out-of-range stores are dropped, as typed-array stores are.
func (h *instance) writeStat(d []byte, buf uint64, st nodeStat) error {
	put32 := func(off uint64, v uint32) {
		if inBounds(d, buf+off, 4) {
			binary.LittleEndian.PutUint32(d[buf+off:], v)
		}
	}
	put64 := func(off uint64, v uint64) {
		if inBounds(d, buf+off, 8) {
			binary.LittleEndian.PutUint64(d[buf+off:], v)
		}
	}
	sec := math.Floor(st.ts / 1e3)
	frac := math.Mod(st.ts, 1e3) * 1e3
	if h.is64 {
		if frac != math.Trunc(frac) || math.IsNaN(frac) {
			return h.trapWith(&abortError{"The number " + jsNumber(frac) + " cannot be converted to a BigInt because it is not an integer"})
		}
		put32(0, st.dev)
		put32(4, st.mode)
		put64(8, uint64(st.nlink))
		put32(16, 0)
		put32(20, 0)
		put32(24, st.rdev)
		put64(32, uint64(int64(st.size)))
		put32(40, 4096)
		put32(44, uint32(int64(st.blocks)))
		for i := uint64(0); i < 3; i++ {
			put64(48+16*i, uint64(int64(sec)))
			put64(56+16*i, uint64(int64(frac)))
		}
		put64(96, uint64(st.ino))
		return nil
	}
	put32(0, st.dev)
	put32(4, st.mode)
	put32(8, st.nlink)
	put32(12, 0)
	put32(16, 0)
	put32(20, st.rdev)
	put64(24, uint64(int64(st.size)))
	put32(32, 4096)
	put32(36, uint32(int64(st.blocks)))
	for i := uint64(0); i < 3; i++ {
		put64(40+16*i, uint64(int64(sec)))
		put32(48+16*i, jsToUint32(frac))
	}
	put64(88, uint64(st.ino))
	return nil
}

// jsToUint32 is ToUint32 of a JavaScript number.
func jsToUint32(v float64) uint32 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return uint32(int64(math.Trunc(math.Mod(v, 4294967296))))
}

// jsNumber formats a number as JavaScript's String(number) does for the
// values that reach it here.
func jsNumber(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
