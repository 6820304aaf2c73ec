package loader

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func TestCopyPagesAndSnapshotBuffer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mk := func(n int) []byte {
		b := make([]byte, n)
		for i := 0; i < n; i += copyPage {
			if r.IntN(3) == 0 {
				b[i+r.IntN(min(copyPage, n-i))] = byte(1 + r.IntN(255))
			}
		}
		return b
	}
	const n = 64*copyPage + 100 // a partial last page too
	s := newSnapshotBuffer(n)
	defer s.free()
	for round := 0; round < 5; round++ {
		src := mk(n)
		// Every other round the fill is told which pages can hold data: the
		// non-zero ones and a few zero ones.
		var maybe func(int) bool
		if round%2 == 1 {
			maybe = func(page int) bool { return page%5 == 0 || !isZero(src[page*copyPage:min(page*copyPage+copyPage, n)]) }
		}
		s.fill(src, maybe)
		if !bytes.Equal(s.buf, src) {
			t.Fatalf("round %d: snapshot differs from its source", round)
		}
		// restoreTo over a memory whose data pages are known.
		back := mk(n)
		s.restoreTo(back, func(page int) bool { return !isZero(back[page*copyPage : min(page*copyPage+copyPage, n)]) })
		if !bytes.Equal(back, src) {
			t.Fatalf("round %d: restoreTo differs", round)
		}
		// Restore into memory that has other data below zeroFrom and zeros above.
		dst := mk(n)
		zeroFrom := 20 * copyPage
		clear(dst[zeroFrom:])
		copyPages(dst, s.buf, zeroFrom)
		if !bytes.Equal(dst, src) {
			t.Fatalf("round %d: restored memory differs", round)
		}
	}
	// A shorter image is a prefix copy; the rest of dst is kept.
	dst := bytes.Repeat([]byte{7}, 3*copyPage)
	copyPages(dst, make([]byte, copyPage+5), len(dst))
	if !isZero(dst[:copyPage+5]) || dst[copyPage+5] != 7 {
		t.Fatal("prefix copy")
	}
}
