//go:build linux

package loader

import "golang.org/x/sys/unix"

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
