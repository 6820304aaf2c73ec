//go:build linux

package loader

import (
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
func zeroMemory(b []byte) {
	if len(b) == 0 {
		return
	}
	pg := uintptr(unix.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	end := start + uintptr(len(b))
	lo, hi := (start+pg-1)&^(pg-1), end&^(pg-1)
	if hi <= lo {
		clear(b)
		return
	}
	if _, err := unix.MmapPtr(-1, 0, unsafe.Pointer(lo), hi-lo, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED); err != nil {
		clear(b)
		return
	}
	clear(b[:lo-start])
	clear(b[hi-start:])
}
