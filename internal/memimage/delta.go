package memimage

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"
	"math"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Delta images. The processes of one module share most of their memory (an
// aos process's Lua heap after boot: 82% of the non-zero pages of 40 real
// aos2_0_6 images equal the page at the same index of another process's
// image), and most pages they do not share differ from the base's in a few
// words (GC mark bits, a string, a table slot). So an image is held as the
// pages that differ from a base image of its module at the same index, XOR
// the base's bytes of them, as ranges of non-zero 8-byte words:
//
//	AOCUMEMX  u64 memory length  [32]byte base id  u32 runs  runs×(u32 first page, u32 pages)
//	          u32 raw  raw×(u32 page)  u8 codec  u32 crc  codec(ranges)
//
// The runs list every page of the memory whose bytes differ from the base's
// at the same offset (the base read as zero past its length), a page the
// base has and the image has not included (as the base's bytes, which XOR
// to zero); every other page of the memory is the base's. A page rewritten
// rather than touched up (its XOR with the base's would not have half as
// many non-zero words as itself) is listed raw: the base reads as zero
// under it. The ranges cover the concatenation X of the runs' pages, each of
// its length in the memory, XOR the base's bytes at the same offset: a
// sequence of (uvarint gap, uvarint n, n bytes), the bytes of X at the end
// of the gap, which follows the previous range (or X's start); X is zero
// outside them. The ranges are one S2 block (codec 0,
// github.com/klauspost/compress/s2) up to 256 KiB, a zstd frame (codec 1)
// beyond, after their CRC-32C. (On the 995 delta checkpoints of a
// 1,000-process scalebench run, against the first form: 238 KB → 77 KB per
// image with zstd, decompression 2.3 → 0.3 ms; S2 makes such ranges ~25%
// larger and their encoding 3× and decoding 2× faster: 0.9 → 0.3 and 0.23 →
// 0.13 ms per image, what every message to an idle process pays. A process
// far from every base of its module (at 10,000 processes, in another phase
// of Lua's collector) has many raw pages: zstd, as a plain image.)
//
// The first form, written until the XOR form, is still read:
//
//	AOCUMEMD  (the same header)  zstd(the differing pages, whole)
//
// A delta is not self-contained: its base must be at hand to read it (the
// engine's memory cache and drained files, and file checkpoints written
// beside their base).

var (
	magicDelta = [8]byte{'A', 'O', 'C', 'U', 'M', 'E', 'M', 'D'}
	magicXor   = [8]byte{'A', 'O', 'C', 'U', 'M', 'E', 'M', 'X'}
)

const deltaHeaderLen = 8 + 8 + 32

// DeltaHeaderLen is how many bytes of a delta image name its base
// (DeltaBaseID reads no further).
const DeltaHeaderLen = deltaHeaderLen

// IsDelta reports whether b is a delta image, of either form (it needs its
// base to decode).
func IsDelta(b []byte) bool {
	return len(b) >= deltaHeaderLen && (bytes.Equal(b[:8], magicXor[:]) || bytes.Equal(b[:8], magicDelta[:]))
}

// Base is an image that deltas are made against and decoded with. It holds
// the image's pages uncompressed and an index of them by page. Immutable,
// safe for concurrent use.
type Base struct {
	im *Image
	id [32]byte
	at []int32 // by page index: the page's offset in im.data in pages, or -1 (a zero page)
}

// NewBase makes a base of im, which must not change afterwards (an image
// that aliases a Decoder's buffer must be copied first: see Image.Clone).
func NewBase(im *Image) *Base {
	pages := (im.size + PageSize - 1) / PageSize
	b := &Base{im: im, at: make([]int32, pages)}
	for i := range b.at {
		b.at[i] = -1
	}
	pos := int32(0)
	for _, r := range im.runs {
		for k := range r.Pages {
			b.at[r.First+k] = pos
			pos++
		}
	}
	h := sha256.New()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(im.size))
	h.Write(n[:])
	for _, r := range im.runs {
		binary.LittleEndian.PutUint32(n[:4], r.First)
		binary.LittleEndian.PutUint32(n[4:], r.Pages)
		h.Write(n[:])
	}
	h.Write(im.data)
	h.Sum(b.id[:0])
	return b
}

// ID identifies the base: the sha256 of its length, runs and pages.
func (b *Base) ID() [32]byte { return b.id }

// Image is the base's image.
func (b *Base) Image() *Image { return b.im }

// page returns the base's bytes of page i (nil: zero, or past its length).
func (b *Base) page(i uint32) []byte {
	if int(i) >= len(b.at) || b.at[i] < 0 {
		return nil
	}
	off := int64(b.at[i]) * PageSize
	return b.im.data[off:min(off+PageSize, int64(len(b.im.data)))]
}

// Clone returns a copy of the image that aliases nothing.
func (im *Image) Clone() *Image {
	return &Image{size: im.size, runs: append([]Run(nil), im.runs...), data: append([]byte(nil), im.data...)}
}

// pageLen is the length of page i of a memory of size bytes.
func pageLen(size int64, i uint32) int {
	return int(min(int64(PageSize), size-int64(i)*PageSize))
}

// sameAs reports whether p (the image's page, of its length) reads as the
// base's page bp (nil: zero) over p's length.
func sameAs(p, bp []byte) bool {
	n := min(len(p), len(bp))
	return bytes.Equal(p[:n], bp[:n]) && isZero(p[n:])
}

func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), PageSize)
		if !bytes.Equal(b[:n], zeroPage[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// pageAppender builds runs and concatenated pages, page by page in order.
type pageAppender struct {
	runs []Run
	data []byte
}

func (a *pageAppender) add(i uint32, p []byte) {
	a.runs = appendPage(a.runs, i)
	a.data = append(a.data, p...)
}

// appendPage adds page i, past the last of runs, to runs.
func appendPage(runs []Run, i uint32) []Run {
	if n := len(runs); n > 0 && runs[n-1].First+runs[n-1].Pages == i {
		runs[n-1].Pages++
		return runs
	}
	return append(runs, Run{First: i, Pages: 1})
}

// xorRanges builds the ranges of a delta (see the format above), page by
// page in order.
type xorRanges struct {
	out []byte
	gap int // zero bytes of X since the last range
	x   [PageSize]byte
}

// add appends the ranges of p XOR bp (bp nil or shorter than p: zeros past
// its end), or of p itself (raw true) when the XOR does not cut p's
// non-zero words by half: a page rewritten, not touched up, whose XOR with
// the base's would only be less compressible than the page.
func (r *xorRanges) add(p, bp []byte) (raw bool) {
	x := r.x[:len(p)]
	copy(x, p)
	if n := min(len(p), len(bp)); n > 0 {
		subtle.XORBytes(x[:n], p[:n], bp[:n])
		if 2*nonZeroWords(x) > nonZeroWords(p) {
			copy(x, p)
			raw = true
		}
	}
	r.ranges(x)
	return raw
}

// nonZeroWords counts the 8-byte words of b that are not zero (a tail
// shorter than a word counts as one).
func nonZeroWords(b []byte) int {
	n := 0
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			n++
		}
		b = b[8:]
	}
	if !isZero(b) {
		n++
	}
	return n
}

// ranges appends the ranges of the non-zero words of x.
func (r *xorRanges) ranges(x []byte) {
	word := func(i int) uint64 { return binary.LittleEndian.Uint64(x[i:]) }
	i := 0
	for i < len(x) {
		j := i // the next non-zero word (or tail of under 8 bytes)
		for j+8 <= len(x) && word(j) == 0 {
			j += 8
		}
		if j+8 > len(x) && isZero(x[j:]) {
			j = len(x)
		}
		if j == len(x) {
			r.gap += j - i
			return
		}
		k := j // the range ends at a zero word, or with the page
		for k+8 <= len(x) && word(k) != 0 {
			k += 8
		}
		if k+8 > len(x) && k < len(x) && !isZero(x[k:]) {
			k = len(x)
		}
		if k == j { // (a tail shorter than a word)
			k = len(x)
		}
		r.out = binary.AppendUvarint(r.out, uint64(r.gap+j-i))
		r.out = binary.AppendUvarint(r.out, uint64(k-j))
		r.out = append(r.out, x[j:k]...)
		r.gap, i = 0, k
	}
}

// eachXorRange calls fn (when not nil) with each range of s (see the format
// above): its offset in the n bytes of pages the runs list, and its bytes.
// It returns errBadRanges when a range leaves those bytes.
func eachXorRange(s []byte, n uint64, fn func(pos uint64, b []byte)) error {
	pos := uint64(0)
	for len(s) > 0 {
		gap, k := binary.Uvarint(s)
		if k <= 0 {
			return errBadRanges
		}
		s = s[k:]
		l, k := binary.Uvarint(s)
		if k <= 0 || l > uint64(len(s)-k) || gap > n-pos || l > n-pos-gap {
			return errBadRanges
		}
		pos += gap
		if fn != nil {
			fn(pos, s[k:k+int(l)])
		}
		s, pos = s[k+int(l):], pos+l
	}
	return nil
}

// applyXorRanges XORs the ranges s into x, the pages the runs list.
func applyXorRanges(x, s []byte) error {
	return eachXorRange(s, uint64(len(x)), func(pos uint64, b []byte) {
		subtle.XORBytes(x[pos:pos+uint64(len(b))], x[pos:pos+uint64(len(b))], b)
	})
}

var errBadRanges = errors.New("memimage: malformed delta image (its ranges leave its pages)")

// SampledDeltaBytes is the DeltaBytes of im's diff against the base over
// every stride-th page only, times stride: an estimate for ranking bases at
// a fraction of the reads.
func (b *Base) SampledDeltaBytes(im *Image, stride int) int {
	return stride * b.deltaBytesOf(im, uint32(max(stride, 1)))
}

func (b *Base) deltaBytesOf(im *Image, stride uint32) int {
	var r xorRanges
	pages := func(yield func(uint32, []byte) bool) {
		for i, p := range im.pages {
			if i%stride == 0 && !yield(i, p) {
				return
			}
		}
	}
	// (eachDiff takes a base page at an index left out for one im lacks and
	// emits it as zero: the same test drops it)
	eachDiff(im.size, pages, b, func(i uint32, p []byte) {
		if i%stride == 0 {
			r.add(p, b.page(i))
		}
	})
	return len(r.out)
}

// eachDiff calls add, in page order, for each page of a memory of size
// bytes (its non-zero pages: pages, in order) whose bytes differ from base's
// at the same index, with the memory's bytes of it (zeros where it has
// none).
func eachDiff(size int64, pages iter.Seq2[uint32, []byte], base *Base, add func(page uint32, p []byte)) {
	end := uint32((size + PageSize - 1) / PageSize)
	// The pages of the base not in im (zero there) are visited in order
	// between im's runs.
	bi := 0 // next base run
	bk := uint32(0)
	baseRuns := base.im.runs
	// emitBaseUpTo adds a zero page for each non-zero base page below end
	// that im does not hold.
	emitBaseUpTo := func(upTo uint32) {
		for bi < len(baseRuns) {
			r := baseRuns[bi]
			i := r.First + bk
			if i >= upTo || i >= end {
				return
			}
			bp := base.page(i)
			if n := pageLen(size, i); !isZero(bp[:min(n, len(bp))]) {
				add(i, zeroPage[:n])
			}
			if bk++; bk == r.Pages {
				bi, bk = bi+1, 0
			}
		}
	}
	// skipBase moves the base cursor past page i.
	skipBase := func(i uint32) {
		for bi < len(baseRuns) && baseRuns[bi].First+bk <= i {
			if bk++; bk == baseRuns[bi].Pages {
				bi, bk = bi+1, 0
			}
		}
	}
	for i, p := range pages {
		emitBaseUpTo(i)
		if !sameAs(p, base.page(i)) {
			add(i, p)
		}
		skipBase(i)
	}
	emitBaseUpTo(end)
}

// pages yields im's pages in order, each of its length in the memory.
func (im *Image) pages(yield func(uint32, []byte) bool) {
	pos := 0
	for _, r := range im.runs {
		for k := range r.Pages {
			i := r.First + k
			n := pageLen(im.size, i)
			if !yield(i, im.data[pos:pos+n]) {
				return
			}
			pos += n
		}
	}
}

// EncodeAgainst returns the delta of im against base when it holds fewer
// page bytes than im (delta true), else im's plain compact image: an image
// unlike its base is not made larger to decode.
func EncodeAgainst(im *Image, base *Base) (b []byte, delta bool, err error) {
	enc, err := NewEncoder(1)
	if err != nil {
		return nil, false, err
	}
	defer enc.Close()
	b, delta = enc.EncodeAgainst(im, base)
	return b, delta, nil
}

// EncodeAgainst is the package's EncodeAgainst with e's encoders.
func (e *Encoder) EncodeAgainst(im *Image, base *Base) (b []byte, delta bool) {
	if base == nil {
		return e.Encode(im), false
	}
	if b, ok := e.EncodeDiff(DiffImage(im, base)); ok {
		return b, true
	}
	return e.Encode(im), false
}

// EncodeDelta returns the delta of im against base, whatever its size.
func EncodeDelta(im *Image, base *Base) ([]byte, error) {
	if base == nil {
		return nil, errors.New("memimage: a delta image needs a base image")
	}
	enc, err := NewEncoder(1)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	runs, raw, ranges, _ := xorDiff(im, base)
	b, ok := enc.encodeDelta(im.size, base, runs, raw, ranges)
	if !ok {
		return nil, errors.New("memimage: the delta's ranges exceed an S2 block")
	}
	return b, nil
}

// xorDiff returns the runs of the pages of im that differ from base's, those
// of them held raw, the ranges of those pages XOR the base's (raw: not), and
// the pages' length.
func xorDiff(im *Image, base *Base) (runs []Run, raw []uint32, ranges []byte, n int) {
	return xorDiffOf(im.size, im.pages, base)
}

// xorDiffOf is xorDiff of a memory of size bytes whose non-zero pages are
// pages.
func xorDiffOf(size int64, pages iter.Seq2[uint32, []byte], base *Base) (runs []Run, raw []uint32, ranges []byte, n int) {
	var r xorRanges
	eachDiff(size, pages, base, func(i uint32, p []byte) {
		runs = appendPage(runs, i)
		if r.add(p, base.page(i)) {
			raw = append(raw, i)
		}
		n += len(p)
	})
	return runs, raw, r.out, n
}

// encodeDelta returns the delta image (false: ranges too long for one S2
// block, over 4 GiB).
func (e *Encoder) encodeDelta(size int64, base *Base, runs []Run, raw []uint32, ranges []byte) ([]byte, bool) {
	hdr := deltaHeaderLen + 4 + 8*len(runs) + 4 + 4*len(raw) + 1 + 4
	head := func(out []byte, codec byte) {
		copy(out, magicXor[:])
		binary.LittleEndian.PutUint64(out[8:], uint64(size))
		copy(out[16:deltaHeaderLen], base.id[:])
		at := deltaHeaderLen + 4 + 8*len(runs)
		putRuns(out[deltaHeaderLen:], runs)
		binary.LittleEndian.PutUint32(out[at:], uint32(len(raw)))
		for k, i := range raw {
			binary.LittleEndian.PutUint32(out[at+4+4*k:], i)
		}
		out[hdr-5] = codec
		binary.LittleEndian.PutUint32(out[hdr-4:], crc32.Checksum(ranges, castagnoli))
	}
	if len(ranges) > s2RangesMax {
		out := make([]byte, hdr, hdr+len(ranges)/3+64)
		head(out, codecZstd)
		return e.zst.EncodeAll(ranges, out), true
	}
	max := s2.MaxEncodedLen(len(ranges))
	if max < 0 {
		return nil, false
	}
	bp := s2Buffers.Get().(*[]byte)
	defer s2Buffers.Put(bp)
	if cap(*bp) < max {
		*bp = make([]byte, max)
	}
	c := s2.Encode((*bp)[:max], ranges)
	out := make([]byte, hdr+len(c))
	head(out, codecS2)
	copy(out[hdr:], c)
	return out, true
}

// The codecs of a delta's ranges: S2 up to s2RangesMax bytes of ranges (a
// delta of a few words per page: fast), zstd beyond (a delta of many pages,
// raw ones among them, which zstd makes ~2× smaller than S2).
const (
	codecS2     = 0
	codecZstd   = 1
	s2RangesMax = 256 << 10
)

// s2Buffers are encodeDelta's scratch buffers (an image is copied out of
// one at its size).
var s2Buffers = sync.Pool{New: func() any { return new([]byte) }}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// xorHeader is what follows a delta's run table (XOR form).
type xorHeader struct {
	raw     []uint32 // the pages held raw (in the runs, ascending)
	codec   byte
	sum     uint32
	payload []byte
}

// readXorHeader reads the raw pages, codec and checksum at b[at:], which
// follow the run table of runs.
func readXorHeader(b []byte, at int, runs []Run) (h xorHeader, err error) {
	if len(b) < at+4 {
		return h, errors.New("memimage: truncated delta image")
	}
	nraw := uint64(binary.LittleEndian.Uint32(b[at:]))
	if uint64(len(b)) < uint64(at)+4+4*nraw+5 {
		return h, errors.New("memimage: truncated delta image")
	}
	h.raw = make([]uint32, nraw)
	ri, prev := 0, int64(-1)
	for k := range h.raw {
		i := binary.LittleEndian.Uint32(b[at+4+4*k:])
		for ri < len(runs) && runs[ri].First+runs[ri].Pages <= i {
			ri++
		}
		if int64(i) <= prev || ri == len(runs) || i < runs[ri].First {
			return h, errors.New("memimage: malformed delta image (a raw page not in its runs, or out of order)")
		}
		h.raw[k], prev = i, int64(i)
	}
	at += 4 + 4*int(nraw)
	h.codec, h.sum, h.payload = b[at], binary.LittleEndian.Uint32(b[at+1:]), b[at+5:]
	if h.codec != codecS2 && h.codec != codecZstd {
		return h, fmt.Errorf("memimage: delta image of unknown codec %d", h.codec)
	}
	return h, nil
}

// decodeRanges reads a delta's ranges (see the format above), at most bound
// bytes, into buf (reused when it has room), with reuse's zstd decoder
// (nil: one of its own).
func decodeRanges(h xorHeader, bound uint64, buf []byte, reuse *Decoder, max int64) ([]byte, error) {
	var out []byte
	if h.codec == codecZstd {
		var err error
		if reuse != nil {
			out, err = reuse.decodeInto(h.payload, buf, bound, max)
		} else {
			out, err = decodeOnce(h.payload, bound)
		}
		if err != nil {
			return nil, err
		}
		if uint64(len(out)) > bound {
			return nil, errBadRanges
		}
	} else {
		n, err := s2.DecodedLen(h.payload)
		if err != nil {
			return nil, fmt.Errorf("memimage: delta image: %w", err)
		}
		if uint64(n) > bound {
			return nil, errBadRanges
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		if out, err = s2.Decode(buf[:n], h.payload); err != nil {
			return nil, fmt.Errorf("memimage: delta image: %w", err)
		}
	}
	if crc32.Checksum(out, castagnoli) != h.sum {
		return nil, errors.New("memimage: delta image damaged (its ranges' checksum differs)")
	}
	return out, nil
}

// DeltaBaseID returns the id of the base a delta image was made against.
func DeltaBaseID(b []byte) ([32]byte, error) {
	var id [32]byte
	if !IsDelta(b) {
		return id, errors.New("memimage: not a delta image")
	}
	copy(id[:], b[16:deltaHeaderLen])
	return id, nil
}

// ParseWith is Parse for an image that may be a delta: a delta is decoded
// against base (refused when base is nil or not the one it was made
// against); any other form is parsed as Parse does, base unused.
func ParseWith(b []byte, base *Base, max int64) (*Image, error) {
	if !IsDelta(b) {
		return Parse(b, max)
	}
	return parseDelta(b, base, max, nil)
}

// DecodeWith is Decode for an image that may be a delta (see ParseWith).
func DecodeWith(b []byte, base *Base, max int64) ([]byte, error) {
	if !IsDelta(b) {
		return Decode(b, max)
	}
	im, err := parseDelta(b, base, max, nil)
	if err != nil {
		return nil, err
	}
	return im.Bytes(), nil
}

// ParseWith is the package's ParseWith; the image aliases the decoder's
// buffers until the next Parse or ParseWith.
func (d *Decoder) ParseWith(b []byte, base *Base, max int64) (*Image, error) {
	if !IsDelta(b) {
		return d.Parse(b, max)
	}
	return parseDelta(b, base, max, d)
}

// Expand returns the plain compact image (AOCUMEM2) of an image that may be
// a delta against base: what a file that must be readable without the base
// (a file checkpoint) holds. Any other form is returned as it is.
func Expand(b []byte, base *Base, max int64) ([]byte, error) {
	if !IsDelta(b) {
		return b, nil
	}
	enc, err := NewEncoder(1)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.Expand(b, base, max)
}

// Expand is the package's Expand with e's encoders.
func (e *Encoder) Expand(b []byte, base *Base, max int64) ([]byte, error) {
	if !IsDelta(b) {
		return b, nil
	}
	im, err := parseDelta(b, base, max, nil)
	if err != nil {
		return nil, err
	}
	return e.Encode(im), nil
}

// Delta is a delta image read against its base, to be written over a
// memory that holds the base (a scratch fork loads one idle process after
// another this way: the base's pages, then the few words that differ, with
// no merged image in between).
type Delta struct {
	size   int64
	base   *Base
	runs   []Run
	xor    bool     // the XOR form (its ranges may be empty: pages only cleared)
	raw    []uint32 // the XOR form's pages held raw (the base's not under them)
	ranges []byte   // the XOR form's ranges (checked), or
	pages  []byte   // the first form's pages
}

// Len is the length of the memory the delta makes.
func (x *Delta) Len() int64 { return x.size }

// Base is the image the delta is written over.
func (x *Delta) Base() *Image { return x.base.im }

// ReadDelta reads a delta image against base (refused when base is not the
// one it was made against). The Delta aliases d's buffers until d's next
// use.
func (d *Decoder) ReadDelta(b []byte, base *Base, max int64) (*Delta, error) {
	if !IsDelta(b) {
		return nil, errors.New("memimage: not a delta image")
	}
	if err := checkBase(b, base); err != nil {
		return nil, err
	}
	x := &Delta{base: base}
	if !bytes.Equal(b[:8], magicXor[:]) {
		var err error
		x.size, x.runs, x.pages, err = readPages(b, deltaHeaderLen, max, d, &d.dbuf)
		if err != nil {
			return nil, err
		}
		return x, nil
	}
	size, runs, dataLen, err := readHeader(b, deltaHeaderLen, max)
	if err != nil {
		return nil, err
	}
	h, err := readXorHeader(b, deltaHeaderLen+4+8*len(runs), runs)
	if err != nil {
		return nil, err
	}
	ranges, err := decodeRanges(h, dataLen+dataLen/256+64, d.dbuf, d, max)
	if err != nil {
		return nil, err
	}
	d.dbuf = ranges
	if err := eachXorRange(d.dbuf, dataLen, nil); err != nil {
		return nil, err
	}
	x.size, x.runs, x.raw, x.ranges, x.xor = size, runs, h.raw, d.dbuf, true
	return x, nil
}

// ApplyTo makes mem, which holds the base's pages below Len and zeros
// elsewhere, hold the image.
func (x *Delta) ApplyTo(mem []byte) {
	if !x.xor {
		pos := int64(0)
		for _, r := range x.runs {
			off := int64(r.First) * PageSize
			n := min(int64(r.First+r.Pages)*PageSize, x.size) - off
			copy(mem[off:off+n], x.pages[pos:pos+n])
			pos += n
		}
		return
	}
	for _, i := range x.raw { // (mem holds the base's page there)
		off := int64(i) * PageSize
		clear(mem[off : off+int64(pageLen(x.size, i))])
	}
	// The ranges are offsets in the concatenated pages of the runs (checked
	// by ReadDelta).
	ri, runX := 0, uint64(0) // the run at X offset runX
	runLen := func(r Run) uint64 {
		return uint64(min(int64(r.First+r.Pages)*PageSize, x.size) - int64(r.First)*PageSize)
	}
	_ = eachXorRange(x.ranges, math.MaxUint64, func(pos uint64, b []byte) {
		for len(b) > 0 {
			for pos >= runX+runLen(x.runs[ri]) {
				runX += runLen(x.runs[ri])
				ri++
			}
			off := uint64(x.runs[ri].First)*PageSize + pos - runX
			n := min(uint64(len(b)), runX+runLen(x.runs[ri])-pos)
			subtle.XORBytes(mem[off:off+n], mem[off:off+n], b[:n])
			pos, b = pos+n, b[n:]
		}
	})
}

// Cut returns the image of the first n bytes of im's memory, sharing im's
// pages, or nil when n cuts a page (n not a multiple of PageSize below
// im's length).
func (im *Image) Cut(n int64) *Image {
	if n >= im.size {
		return im
	}
	if n%PageSize != 0 {
		return nil
	}
	out := &Image{size: n}
	pages := uint32(n / PageSize)
	data := 0
	for _, r := range im.runs {
		if r.First >= pages {
			break
		}
		r.Pages = min(r.Pages, pages-r.First)
		out.runs = append(out.runs, r)
		data += int(r.Pages) * PageSize
	}
	out.data = im.data[:data]
	return out
}

// checkBase refuses a base that delta image b was not made against.
func checkBase(b []byte, base *Base) error {
	if base == nil {
		return errNeedsBase
	}
	if !bytes.Equal(b[16:deltaHeaderLen], base.id[:]) {
		return fmt.Errorf("memimage: delta image made against base %s, not against the base %s given",
			hex.EncodeToString(b[16:24]), hex.EncodeToString(base.id[:8]))
	}
	return nil
}

// readXorPages reads the header of a delta image of the XOR form and returns
// the image's bytes of the pages its runs list (the base's, XOR the ranges).
func readXorPages(b []byte, base *Base, max int64, reuse *Decoder) (size int64, runs []Run, pages []byte, err error) {
	size, runs, dataLen, err := readHeader(b, deltaHeaderLen, max)
	if err != nil {
		return 0, nil, nil, err
	}
	h, err := readXorHeader(b, deltaHeaderLen+4+8*len(runs), runs)
	if err != nil {
		return 0, nil, nil, err
	}
	// The ranges hold at most the pages and a few bytes per page.
	bound := dataLen + dataLen/256 + 64
	var ranges []byte
	if reuse != nil {
		ranges, err = decodeRanges(h, bound, reuse.dbuf, reuse, max)
		if err == nil {
			reuse.dbuf = ranges
		}
		if uint64(cap(reuse.xbuf)) < dataLen {
			reuse.xbuf = make([]byte, dataLen)
		}
		pages = reuse.xbuf[:dataLen]
	} else {
		ranges, err = decodeRanges(h, bound, nil, nil, max)
		pages = make([]byte, dataLen)
	}
	if err != nil {
		return 0, nil, nil, err
	}
	pos, raw := 0, h.raw
	for _, r := range runs {
		for k := range r.Pages {
			i := r.First + k
			n := pageLen(size, i)
			c := 0
			if len(raw) > 0 && raw[0] == i {
				raw = raw[1:]
			} else {
				c = copy(pages[pos:pos+n], base.page(i))
			}
			clear(pages[pos+c : pos+n])
			pos += n
		}
	}
	if err := applyXorRanges(pages, ranges); err != nil {
		return 0, nil, nil, err
	}
	return size, runs, pages, nil
}

func parseDelta(b []byte, base *Base, max int64, reuse *Decoder) (*Image, error) {
	if err := checkBase(b, base); err != nil {
		return nil, err
	}
	var size int64
	var runs []Run
	var pages []byte
	var err error
	if bytes.Equal(b[:8], magicXor[:]) {
		size, runs, pages, err = readXorPages(b, base, max, reuse)
	} else {
		var buf *[]byte
		if reuse != nil {
			buf = &reuse.dbuf
		}
		size, runs, pages, err = readPages(b, deltaHeaderLen, max, reuse, buf)
	}
	if err != nil {
		return nil, err
	}
	// Merge: the delta's pages where it has them (zeros dropped), the base's
	// elsewhere (cut to the memory's length).
	var out pageAppender
	if reuse != nil {
		out.runs, out.data = reuse.runs[:0], reuse.obuf[:0]
	}
	if need := len(base.im.data) + len(pages); cap(out.data) < need {
		out.data = make([]byte, 0, need)
	}
	npages := uint32((size + PageSize - 1) / PageSize)
	addBase := func(i uint32) {
		bp := base.page(i)
		n := pageLen(size, i)
		if len(bp) >= n {
			if bp = bp[:n]; len(bp) < PageSize && isZero(bp) {
				return // non-zero only past the memory's end
			}
			out.add(i, bp)
			return
		}
		out.add(i, bp) // the base's last, short page in a longer memory
		out.data = append(out.data, zeroPage[:n-len(bp)]...)
	}
	bi, bk := 0, uint32(0)
	baseRuns := base.im.runs
	baseUpTo := func(end uint32) {
		for bi < len(baseRuns) {
			i := baseRuns[bi].First + bk
			if i >= end || i >= npages {
				return
			}
			addBase(i)
			if bk++; bk == baseRuns[bi].Pages {
				bi, bk = bi+1, 0
			}
		}
	}
	pos := 0
	for _, r := range runs {
		for k := range r.Pages {
			i := r.First + k
			baseUpTo(i)
			for bi < len(baseRuns) && baseRuns[bi].First+bk <= i { // the delta's page replaces the base's
				if bk++; bk == baseRuns[bi].Pages {
					bi, bk = bi+1, 0
				}
			}
			n := pageLen(size, i)
			if p := pages[pos : pos+n]; !isZero(p) {
				out.add(i, p)
			}
			pos += n
		}
	}
	baseUpTo(npages)
	if reuse != nil {
		reuse.runs, reuse.obuf = out.runs, out.data
	}
	return &Image{size: size, runs: out.runs, data: out.data}, nil
}

// A MemoryDiff is a memory's delta against a base, made from the memory
// itself: no page image is copied (what parking a process that is still
// close to the base it was restored against costs: one read of the pages
// the kernel backed and of the base's).
type MemoryDiff struct {
	size       int64
	base       *Base
	runs       []Run
	raw        []uint32
	ranges     []byte
	diff, data int
}

// DiffMemory compares the pages of mem that maybe says can hold data (nil:
// every page) with base's.
func DiffMemory(mem []byte, maybe func(page int) bool, base *Base) *MemoryDiff {
	d := &MemoryDiff{size: int64(len(mem)), base: base}
	pages := func(yield func(uint32, []byte) bool) {
		for off := 0; off < len(mem); off += PageSize {
			if maybe != nil && !maybe(off/PageSize) {
				continue
			}
			p := mem[off:min(off+PageSize, len(mem))]
			if isZero(p) {
				continue
			}
			d.data += len(p)
			if !yield(uint32(off/PageSize), p) {
				return
			}
		}
	}
	d.runs, d.raw, d.ranges, d.diff = xorDiffOf(d.size, pages, base)
	return d
}

// DiffImage compares im with base: DiffMemory of the memory im is the image
// of.
func DiffImage(im *Image, base *Base) *MemoryDiff {
	d := &MemoryDiff{size: im.size, base: base, data: len(im.data)}
	d.runs, d.raw, d.ranges, d.diff = xorDiff(im, base)
	return d
}

// DeltaBytes is the length of the delta's ranges before compression (the
// words that differ, XOR the base's, with their offsets, and the pages held
// raw): how far the memory is from the base. Pages are a poor measure:
// after one message Lua's collector has touched most pages of an aos
// process's heap (mark bits), while the words that differ are a few percent
// of them. The engine picks the base to encode against by it.
func (d *MemoryDiff) DeltaBytes() int { return len(d.ranges) }

// DataBytes is the length of the memory's non-zero pages (its image's
// DataBytes).
func (d *MemoryDiff) DataBytes() int { return d.data }

// EncodeDiff returns d's delta image: the bytes EncodeAgainst makes of the
// memory's image and d's base when it makes a delta. False when it would
// not (the delta holds as many page bytes as the image): the caller then
// encodes the image.
func (e *Encoder) EncodeDiff(d *MemoryDiff) ([]byte, bool) {
	if d.diff >= d.data {
		return nil, false
	}
	return e.encodeDelta(d.size, d.base, d.runs, d.raw, d.ranges)
}
