package loader

import "bytes"

// Memory images of ao processes are mostly zero (the 64 MiB stack, the freed
// 40 MiB Asyncify buffer, unused heap). Copying them page by page and skipping
// zero pages where the destination is known to be zero keeps those pages
// untouched: no page faults (expensive on virtual machines) and no resident
// memory for them.

const copyPage = 4096

var zeroPage [copyPage]byte

func isZero(b []byte) bool {
	for len(b) >= copyPage {
		if !bytes.Equal(b[:copyPage], zeroPage[:]) {
			return false
		}
		b = b[copyPage:]
	}
	return bytes.Equal(b, zeroPage[:len(b)])
}

// copyPages copies src over the prefix of dst. Pages of dst at offsets >=
// zeroFrom are known to be zero, so zero pages of src are skipped there; below
// zeroFrom a zero page of src clears dst only if dst holds data. zeroFrom =
// len(dst) means nothing is known.
func copyPages(dst, src []byte, zeroFrom int) {
	n := min(len(dst), len(src))
	for off := 0; off < n; off += copyPage {
		end := min(off+copyPage, n)
		s, d := src[off:end], dst[off:end]
		if !isZero(s) {
			copy(d, s)
		} else if off < zeroFrom && !isZero(d) {
			clear(d)
		}
	}
}

// snapshotBuffer is a reusable memory image that remembers which of its pages
// hold data, so that refreshing it touches only pages with data.
type snapshotBuffer struct {
	buf     []byte
	release func()
	written []bool // per copyPage page
}

func newSnapshotBuffer(n int) *snapshotBuffer {
	b, release := allocImage(n)
	return &snapshotBuffer{buf: b, release: release, written: make([]bool, (n+copyPage-1)/copyPage)}
}

// fill makes the buffer an exact copy of src (same length as the buffer).
// maybe, when not nil, tells which pages of src can hold data (the others
// read as zero and are not read).
func (s *snapshotBuffer) fill(src []byte, maybe func(page int) bool) {
	// Pages about to receive data for the first time are populated in one call
	// per run: demand-faulting them one by one costs far more.
	run := -1
	for i := 0; i <= len(s.written); i++ {
		fresh := false
		if i < len(s.written) && (maybe == nil || maybe(i)) {
			off := i * copyPage
			fresh = !s.written[i] && !isZero(src[off:min(off+copyPage, len(src))])
		}
		switch {
		case fresh && run < 0:
			run = i
		case !fresh && run >= 0:
			populate(s.buf[run*copyPage : min(i*copyPage, len(s.buf))])
			run = -1
		}
	}
	for i := range s.written {
		off := i * copyPage
		end := min(off+copyPage, len(src))
		p := src[off:end]
		if maybe != nil && !maybe(i) {
			if s.written[i] {
				clear(s.buf[off:end])
				s.written[i] = false
			}
			continue
		}
		switch {
		case !isZero(p):
			copy(s.buf[off:end], p)
			s.written[i] = true
		case s.written[i]:
			clear(s.buf[off:end])
			s.written[i] = false
		}
	}
}

func (s *snapshotBuffer) free() {
	if s != nil && s.release != nil {
		s.release()
		s.release = nil
	}
}

// restoreTo makes dst (of the buffer's length) an exact copy of the buffer,
// reading only the buffer's written pages and, of dst, the pages maybe says
// can hold data (nil: every page).
func (s *snapshotBuffer) restoreTo(dst []byte, maybe func(page int) bool) {
	for i := range s.written {
		off := i * copyPage
		end := min(off+copyPage, len(dst))
		switch {
		case s.written[i]:
			copy(dst[off:end], s.buf[off:end])
		case maybe != nil && !maybe(i):
		case !isZero(dst[off:end]):
			clear(dst[off:end])
		}
	}
}
