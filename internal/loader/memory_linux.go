//go:build linux

package loader

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// allocImage returns an n-byte zeroed buffer for a memory snapshot, mapped
// directly from the kernel: outside the Go heap (never scanned by the garbage
// collector), and its untouched pages cost no memory. release returns it.
func allocImage(n int) (buf []byte, release func()) {
	if n == 0 {
		return nil, func() {}
	}
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		b := make([]byte, n)
		return b, func() {}
	}
	return b, func() { _ = unix.Munmap(b) }
}

// populate asks the kernel to back a range with writable pages in one call
// (MADV_POPULATE_WRITE); it is only an optimisation, so errors are ignored.
func populate(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	}
}

// zeroMemory makes b read as zero without touching its pages: the page-aligned
// middle is replaced by fresh anonymous pages (mmap MAP_FIXED over the
// instance's linear memory, whatever backed it: anonymous memory or the
// runtime's copy-on-write image of the data segments), so that it costs no
// page faults and no resident memory until written; the unaligned edges are
// cleared.
func zeroMemory(b []byte) (remapped bool) {
	if len(b) == 0 {
		return true
	}
	pg := uintptr(unix.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	end := start + uintptr(len(b))
	lo, hi := (start+pg-1)&^(pg-1), end&^(pg-1)
	if hi <= lo {
		clear(b)
		return false
	}
	if _, err := unix.MmapPtr(-1, 0, unsafe.Add(unsafe.Pointer(&b[0]), lo-start), hi-lo, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED); err != nil {
		clear(b)
		return false
	}
	clear(b[:lo-start])
	clear(b[hi-start:])
	return true
}

// touchedPages reports, per OS page of b (which must lie in private
// anonymous mappings), whether it may hold data: a page that is neither
// present nor swapped out (/proc/self/pagemap bits 63 and 62) was never
// written and reads as zero. ok is false when the kernel cannot tell.
func touchedPages(b []byte) (touched []bool, pageSize int, ok bool) {
	if len(b) == 0 {
		return nil, 0, false
	}
	pg := unix.Getpagesize()
	start := uintptr(unsafe.Pointer(&b[0]))
	if start%uintptr(pg) != 0 {
		return nil, 0, false // b's pages are then not whole pages of the map
	}
	n := (len(b) + pg - 1) / pg
	fd, err := unix.Open("/proc/self/pagemap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, 0, false
	}
	defer unix.Close(fd)
	touched = make([]bool, n)
	if scanTouched(fd, start, pg, touched) || readTouched(fd, start, pg, touched) {
		return touched, pg, true
	}
	return nil, 0, false
}

// PAGEMAP_SCAN (Linux 6.7): the kernel reports the ranges of pages in given
// categories instead of 8 bytes per page, and skips unmapped page tables.
const (
	pagemapScan   = 0xC0606610 // _IOWR('f', 16, struct pm_scan_arg)
	pageIsFile    = 1 << 2     // a file page or shared anonymous memory: not a private copy
	pageIsPresent = 1 << 3
	pageIsSwapped = 1 << 4
)

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages uint64
	categoryInverted, categoryMask, categoryAnyOfMask       uint64
	returnMask                                              uint64
}

type pageRegion struct{ start, end, categories uint64 }

// scanTouched marks the present or swapped pages of the len(touched) pages
// from start with PAGEMAP_SCAN; false when the kernel has no such ioctl
// (touched may then be marked in part: readTouched sets every entry).
func scanTouched(fd int, start uintptr, pg int, touched []bool) bool {
	return scanPages(fd, start, pg, len(touched), pmScanArg{categoryAnyOfMask: pageIsPresent | pageIsSwapped},
		func(i int) { touched[i] = true })
}

// scanPages calls mark with the index of each of the n pages from start
// that the categories of sel select (its categoryInverted, categoryMask and
// categoryAnyOfMask; the rest of sel is set here), in ascending order, with
// PAGEMAP_SCAN; false when the kernel has no such ioctl (some pages may have
// been marked).
func scanPages(fd int, start uintptr, pg, n int, sel pmScanArg, mark func(i int)) bool {
	// The kernel writes the regions through an address held as an integer:
	// they must not live on the goroutine's stack, which may move (a make of
	// a size known only at run time is on the heap, and heap objects stay).
	regions := make([]pageRegion, min(256, n))
	defer runtime.KeepAlive(regions)
	end := uint64(start) + uint64(n)*uint64(pg)
	arg := pmScanArg{
		size: uint64(unsafe.Sizeof(pmScanArg{})), start: uint64(start), end: end,
		vec: uint64(uintptr(unsafe.Pointer(&regions[0]))), vecLen: uint64(len(regions)),
		categoryInverted: sel.categoryInverted, categoryMask: sel.categoryMask, categoryAnyOfMask: sel.categoryAnyOfMask,
		returnMask: sel.categoryMask | sel.categoryAnyOfMask,
	}
	for arg.start < end {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), pagemapScan, uintptr(unsafe.Pointer(&arg)))
		if errno != 0 {
			return false
		}
		for _, reg := range regions[:r] {
			for a := reg.start; a < reg.end; a += uint64(pg) {
				mark(int((uintptr(a) - start) / uintptr(pg)))
			}
		}
		if arg.walkEnd <= arg.start {
			return false // no progress: not the kernel this was written for
		}
		arg.start = arg.walkEnd
	}
	return true
}

// privatePages calls mark with the index of each of the n pages from start
// that is a private copy (present, not of a file nor shared: a page of a
// MAP_PRIVATE file mapping that was written), in ascending order: with
// PAGEMAP_SCAN where the kernel has it, else reading the pagemap entries
// (bits 63 and 61) into entries (reused when large enough; returned). The
// error is the read's when neither works.
func privatePages(fd int, start uintptr, pg, n int, entries []uint64, mark func(i int)) ([]uint64, error) {
	next := 0 // (a scan that fails part way is resumed by the read)
	if scanPages(fd, start, pg, n, privateCopies(), func(i int) { mark(i); next = i + 1 }) {
		return entries, nil
	}
	return readPrivatePages(fd, start, pg, n, next, entries, mark)
}

// privateCopies selects the present pages that are not PAGE_IS_FILE.
func privateCopies() pmScanArg {
	return pmScanArg{categoryMask: pageIsPresent | pageIsFile, categoryInverted: pageIsFile}
}

// readPrivatePages is privatePages from page next on by reading the pagemap
// entries.
func readPrivatePages(fd int, start uintptr, pg, n, next int, entries []uint64, mark func(i int)) ([]uint64, error) {
	if cap(entries) < n {
		entries = make([]uint64, n)
	}
	entries = entries[:n]
	raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(entries))), n*8)
	for got := 0; got < len(raw); {
		m, err := unix.Pread(fd, raw[got:], int64(start/uintptr(pg))*8+int64(got))
		if err == nil && m <= 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return entries, fmt.Errorf("loader: reading the pagemap entries of %d pages: %w", n, err)
		}
		got += m
	}
	for i := next; i < n; i++ {
		if e := entries[i]; e&pmPresent != 0 && e&pmFile == 0 {
			mark(i)
		}
	}
	return entries, nil
}

// readTouched marks the present or swapped pages (bits 63 and 62 of their
// pagemap entries) of the len(touched) pages from start by reading the
// entries.
func readTouched(fd int, start uintptr, pg int, touched []bool) bool {
	raw := make([]byte, 8*len(touched))
	for got := 0; got < len(raw); {
		n, err := unix.Pread(fd, raw[got:], int64(start/uintptr(pg))*8+int64(got))
		if err != nil || n <= 0 {
			return false
		}
		got += n
	}
	for i := range touched {
		e := binary.LittleEndian.Uint64(raw[8*i:])
		touched[i] = e&(1<<63|1<<62) != 0
	}
	return true
}

// mappedDataPages is touchedPages for b in mappings of any kind (a fresh
// instance's memory: the runtime maps its data segments from a file image
// copy-on-write, the rest is anonymous): a page of a private anonymous
// mapping that the kernel never backed reads as zero; a page of any other
// mapping may hold data. ok is false when the kernel cannot tell.
func mappedDataPages(b []byte) (touched []bool, pageSize int, ok bool) {
	touched, pg, ok := touchedPages(b)
	if !ok {
		return nil, 0, false
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, 0, false
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	end := start + uintptr(len(b))
	covered := start // b is covered by the mappings read so far up to here
	sc := bufio.NewScanner(bytes.NewReader(maps))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() && covered < end {
		lo, hi, anon, ok := parseMapsLine(sc.Bytes())
		if !ok {
			return nil, 0, false
		}
		if hi <= covered || lo >= end {
			continue
		}
		if lo > covered {
			return nil, 0, false // a hole: not what the runtime maps
		}
		if !anon {
			for a := max(lo, start); a < min(hi, end); a += uintptr(pg) {
				touched[(a-start)/uintptr(pg)] = true
			}
		}
		covered = hi
	}
	if covered < end {
		return nil, 0, false
	}
	return touched, pg, true
}

// parseMapsLine reads a /proc/self/maps line: its address range and whether
// it is private anonymous memory (no file: no inode, no path or a [heap] or
// [anon:…] name).
func parseMapsLine(l []byte) (lo, hi uintptr, anon bool, ok bool) {
	f := bytes.Fields(l)
	if len(f) < 5 {
		return 0, 0, false, false
	}
	a, z, found := bytes.Cut(f[0], []byte("-"))
	if !found {
		return 0, 0, false, false
	}
	l64, err1 := strconv.ParseUint(string(a), 16, 64)
	h64, err2 := strconv.ParseUint(string(z), 16, 64)
	if err1 != nil || err2 != nil || len(f[1]) < 4 {
		return 0, 0, false, false
	}
	private := f[1][3] == 'p'
	noFile := string(f[4]) == "0"
	if len(f) > 5 {
		name := f[5]
		noFile = noFile && (bytes.Equal(name, []byte("[heap]")) || bytes.HasPrefix(name, []byte("[anon:")))
	}
	return uintptr(l64), uintptr(h64), private && noFile, true
}
