//go:build linux

package loader

import "golang.org/x/sys/unix"

// allocImage returns an n-byte buffer for a memory snapshot, populated by the
// kernel in one call. Touching fresh memory page by page costs a fault per
// 4 KiB page, which on virtual machines is expensive (measured here: ~15-25 µs
// per fault, 1.7 s to fill a fresh 110 MB Go slice against 0.23 s this way).
// release returns it to the system.
func allocImage(n int) (buf []byte, release func()) {
	if n == 0 {
		return nil, func() {}
	}
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		b := make([]byte, n)
		return b, func() {}
	}
	return b, func() { _ = unix.Munmap(b) }
}

// prefault populates the pages of a memory range before it is written in
// bulk (a restore), for the same reason. Errors are ignored: it is only a hint.
func prefault(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	}
}
