// Package memimage is the compact form of a process memory, on disk and in
// the engine's memory cache. A fresh aos process holds 110 MB of linear memory
// of which about 2 MB (some 500 4-KiB pages) is not zero; a compact image
// records which pages are not zero and the zstd compression of those pages
// only, so a drained process or a file checkpoint costs what the process
// holds, and bringing it back to an instance writes only its non-zero pages
// (Image.WriteTo) without ever materialising the zeros.
//
//	AOCUMEM2  u64 memory length  u32 runs  runs×(u32 first page, u32 pages)  zstd(non-zero pages)
//
// Decode and Parse also accept the first compact form (AOCUMEM1: zstd of the
// whole memory) and a raw memory file (the reference CU's file checkpoints and
// aocu's older files). A delta image (AOCUMEMD, delta.go: the pages that
// differ from a base image of the same module) is read only with its base
// (ParseWith, DecodeWith); Parse and Decode refuse it. The package does no
// I/O.
package memimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// PageSize is the granularity of zero elision.
const PageSize = 4096

var (
	magic1 = [8]byte{'A', 'O', 'C', 'U', 'M', 'E', 'M', '1'}
	magic2 = [8]byte{'A', 'O', 'C', 'U', 'M', 'E', 'M', '2'}
)

const headerLen = 8 + 8

var zeroPage [PageSize]byte

// IsCompact reports whether b is a compact image (either version).
func IsCompact(b []byte) bool {
	return len(b) >= headerLen && (bytes.Equal(b[:8], magic1[:]) || bytes.Equal(b[:8], magic2[:]))
}

// Run is a run of consecutive non-zero pages.
type Run struct{ First, Pages uint32 }

// Image is a memory held as its non-zero pages: what a compact image decodes
// to without the zeros.
type Image struct {
	size int64
	runs []Run
	data []byte // the pages of runs, concatenated (the last page of memory may be short)
}

// Len is the length of the memory.
func (im *Image) Len() int64 { return im.size }

// DataBytes is the length of the non-zero pages.
func (im *Image) DataBytes() int { return len(im.data) }

// Runs returns the runs of non-zero pages, in order.
func (im *Image) Runs() []Run { return im.runs }

// Each calls fn for each run of non-zero pages with its offset in memory and
// its bytes (fn must not keep b).
func (im *Image) Each(fn func(off int64, b []byte)) {
	pos := 0
	for _, r := range im.runs {
		off := int64(r.First) * PageSize
		n := int(min(int64(r.Pages)*PageSize, im.size-off))
		fn(off, im.data[pos:pos+n])
		pos += n
	}
}

// WriteTo writes the non-zero pages into dst, which must read as zero over
// the image's length (pages past len(dst) are dropped). It touches no other
// page of dst.
func (im *Image) WriteTo(dst []byte) {
	im.Each(func(off int64, b []byte) {
		if off < int64(len(dst)) {
			copy(dst[off:], b)
		}
	})
}

// SHA256 is the sha256 of the whole memory, computed without materialising
// its zeros.
func (im *Image) SHA256() [32]byte {
	h := sha256.New()
	var zeros [64 << 10]byte
	pad := func(n int64) {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			h.Write(zeros[:k])
			n -= k
		}
	}
	at := int64(0)
	im.Each(func(off int64, b []byte) {
		pad(off - at)
		h.Write(b)
		at = off + int64(len(b))
	})
	pad(im.size - at)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// Bytes returns the whole memory.
func (im *Image) Bytes() []byte {
	mem := make([]byte, im.size)
	im.WriteTo(mem)
	return mem
}

// FromMemory returns the image of a raw memory (its non-zero pages copied).
func FromMemory(mem []byte) *Image { return FromMemoryWhere(mem, nil) }

// FromMemoryWhere is FromMemory for a memory whose pages can hold data only
// where maybe (page index) says so: the other pages are not read (reading an
// untouched page of a large mapping costs a page fault). nil: every page.
func FromMemoryWhere(mem []byte, maybe func(page int) bool) *Image {
	im := &Image{size: int64(len(mem))}
	if maybe != nil { // room for every page that may hold data (appending page by page grows the pages ~20 times)
		n := 0
		for i := range (len(mem) + PageSize - 1) / PageSize {
			if maybe(i) {
				n++
			}
		}
		im.data = make([]byte, 0, min(n*PageSize, len(mem)))
	}
	for off := 0; off < len(mem); off += PageSize {
		if maybe != nil && !maybe(off/PageSize) {
			continue
		}
		p := mem[off:min(off+PageSize, len(mem))]
		if bytes.Equal(p, zeroPage[:len(p)]) {
			continue
		}
		page := uint32(off / PageSize)
		if n := len(im.runs); n > 0 && im.runs[n-1].First+im.runs[n-1].Pages == page {
			im.runs[n-1].Pages++
		} else {
			im.runs = append(im.runs, Run{First: page, Pages: 1})
		}
		im.data = append(im.data, p...)
	}
	return im
}

// Encode returns the compact image of mem.
func Encode(mem []byte) ([]byte, error) { return FromMemory(mem).Encode() }

// Encode returns the compact form of the image.
func (im *Image) Encode() ([]byte, error) {
	enc, err := NewEncoder(1)
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	return enc.Encode(im), nil
}

// Encoder encodes images with zstd encoders it keeps: making one costs about
// 5 ms, as much as compressing an aos process's 2 MB of pages, so an engine
// that parks and checkpoints processes all day keeps one Encoder. Safe for
// concurrent use (up to its concurrency at a time; more wait).
type Encoder struct{ zst *zstd.Encoder }

// NewEncoder returns an Encoder running up to concurrency encodings at once.
func NewEncoder(concurrency int) (*Encoder, error) {
	zst, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(max(concurrency, 1)),
		zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	return &Encoder{zst: zst}, nil
}

// Close releases the encoders.
func (e *Encoder) Close() { e.zst.Close() }

// Encode returns the compact form (AOCUMEM2) of im.
func (e *Encoder) Encode(im *Image) []byte {
	out := make([]byte, headerLen+4+8*len(im.runs), headerLen+4+8*len(im.runs)+len(im.data)/3+64)
	copy(out, magic2[:])
	binary.LittleEndian.PutUint64(out[8:], uint64(im.size))
	putRuns(out[headerLen:], im.runs)
	return e.zst.EncodeAll(im.data, out)
}

// putRuns writes the run table (u32 count, then the runs) into b.
func putRuns(b []byte, runs []Run) {
	binary.LittleEndian.PutUint32(b, uint32(len(runs)))
	for i, r := range runs {
		binary.LittleEndian.PutUint32(b[4+8*i:], r.First)
		binary.LittleEndian.PutUint32(b[8+8*i:], r.Pages)
	}
}

// Size is the length of the memory b holds, from a compact image's header
// (either version) or a delta image's, or len(b) for a raw memory. The pages are not checked.
func Size(b []byte) (int64, error) {
	if !IsCompact(b) && !IsDelta(b) {
		return int64(len(b)), nil
	}
	n := binary.LittleEndian.Uint64(b[8:headerLen])
	if n > 1<<48 {
		return 0, errors.New("memimage: malformed header")
	}
	return int64(n), nil
}

// Decode returns the memory of a compact image, or b itself when it is a raw
// memory. max bounds the decoded size (0: no bound).
func Decode(b []byte, max int64) ([]byte, error) {
	if IsDelta(b) {
		return nil, errNeedsBase
	}
	if !IsCompact(b) {
		return b, nil
	}
	if bytes.Equal(b[:8], magic1[:]) {
		return decode1(b, max)
	}
	im, err := Parse(b, max)
	if err != nil {
		return nil, err
	}
	return im.Bytes(), nil
}

// Parse returns the image held by b: a compact image of either version, or a
// raw memory. max bounds the memory's length (0: no bound). The image does
// not alias b.
func Parse(b []byte, max int64) (*Image, error) { return parse(b, max, nil) }

// Decoder parses images again and again, reusing its zstd decoder and its
// buffer for the pages (a restore into a recycled instance parses one image
// per switch: a new decoder and a new 2 MB buffer each time cost more than
// the decompression). Not safe for concurrent use.
type Decoder struct {
	dec *zstd.Decoder
	max int64 // the bound dec was made with
	buf []byte
	// For delta images: the delta's pages, and the merged image's runs and
	// pages.
	// (dbuf: the pages or, for the XOR form, its ranges, expanded into xbuf.)
	dbuf, obuf, xbuf []byte
	runs             []Run
}

// errNeedsBase refuses a delta image where no base can be given.
var errNeedsBase = errors.New("memimage: a delta image cannot be read without its base image")

// Parse is the package's Parse; the image aliases the decoder's buffer (for
// a compact image) until the next Parse.
func (d *Decoder) Parse(b []byte, max int64) (*Image, error) { return parse(b, max, d) }

// decodeSlack is the room a Decoder's buffer has past the pages.
const decodeSlack = 256 << 10

// Close releases the zstd decoder.
func (d *Decoder) Close() {
	if d.dec != nil {
		d.dec.Close()
		d.dec = nil
	}
	d.buf, d.dbuf, d.obuf, d.xbuf, d.runs = nil, nil, nil, nil, nil
}

func parse(b []byte, max int64, reuse *Decoder) (*Image, error) {
	if IsDelta(b) {
		return nil, errNeedsBase
	}
	if !IsCompact(b) {
		if max > 0 && int64(len(b)) > max {
			return nil, fmt.Errorf("memimage: memory of %d bytes is larger than the %d allowed", len(b), max)
		}
		return FromMemory(b), nil
	}
	if bytes.Equal(b[:8], magic1[:]) {
		mem, err := decode1(b, max)
		if err != nil {
			return nil, err
		}
		return FromMemory(mem), nil
	}
	var buf *[]byte
	if reuse != nil {
		buf = &reuse.buf
	}
	size, runs, data, err := readPages(b, headerLen, max, reuse, buf)
	if err != nil {
		return nil, err
	}
	return &Image{size: size, runs: runs, data: data}, nil
}

// readHeader reads the memory length at b[8:16] and the run table at
// b[at:], checking the runs are in order and within the memory; dataLen is
// the length of the pages they cover.
func readHeader(b []byte, at int, max int64) (size int64, runs []Run, dataLen uint64, err error) {
	if len(b) < at+4 {
		return 0, nil, 0, errors.New("memimage: malformed header")
	}
	n := binary.LittleEndian.Uint64(b[8:16])
	if max > 0 && n > uint64(max) {
		return 0, nil, 0, fmt.Errorf("memimage: image of %d bytes is larger than the %d allowed", n, max)
	}
	if n > 1<<48 {
		return 0, nil, 0, errors.New("memimage: malformed header")
	}
	nruns := uint64(binary.LittleEndian.Uint32(b[at:]))
	if uint64(len(b)) < uint64(at)+4+8*nruns {
		return 0, nil, 0, errors.New("memimage: truncated run table")
	}
	runs = make([]Run, nruns)
	pages := (n + PageSize - 1) / PageSize
	next := uint64(0)
	for i := range runs {
		r := Run{First: binary.LittleEndian.Uint32(b[at+4+8*i:]), Pages: binary.LittleEndian.Uint32(b[at+8+8*i:])}
		end := uint64(r.First) + uint64(r.Pages)
		if r.Pages == 0 || uint64(r.First) < next || end > pages {
			return 0, nil, 0, fmt.Errorf("memimage: run %d (pages %d+%d) out of order or past the memory", i, r.First, r.Pages)
		}
		next = end
		dataLen += min(end*PageSize, n) - uint64(r.First)*PageSize
		runs[i] = r
	}
	return int64(n), runs, dataLen, nil
}

// decodeInto decompresses payload into buf (grown when it has less room
// than dataLen and some slack), with the decoder's zstd decoder.
// readPages reads the header at b[at:] (memory length and run table) and
// decompresses the pages that follow it: into *buf, reusing it and reuse's
// zstd decoder, or into a new buffer when reuse is nil.
func readPages(b []byte, at int, max int64, reuse *Decoder, buf *[]byte) (size int64, runs []Run, pages []byte, err error) {
	size, runs, dataLen, err := readHeader(b, at, max)
	if err != nil {
		return 0, nil, nil, err
	}
	payload := b[at+4+8*len(runs):]
	if reuse != nil {
		*buf, err = reuse.decodeInto(payload, *buf, dataLen, max)
		pages = *buf
	} else {
		pages, err = decodeOnce(payload, dataLen)
	}
	if err != nil {
		return 0, nil, nil, err
	}
	if uint64(len(pages)) != dataLen {
		return 0, nil, nil, errors.New("memimage: truncated image")
	}
	return size, runs, pages, nil
}

func (d *Decoder) decodeInto(payload, buf []byte, dataLen uint64, max int64) ([]byte, error) {
	if d.dec == nil || d.max != max {
		if d.dec != nil {
			d.dec.Close()
		}
		opts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true)}
		if max > 0 { // what any image may hold (a delta's ranges: a few bytes more per page)
			opts = append(opts, zstd.WithDecoderMaxMemory(uint64(max)+uint64(max)/256+1<<16))
		}
		dec, err := zstd.NewReader(nil, opts...)
		if err != nil {
			return buf, fmt.Errorf("memimage: %w", err)
		}
		d.dec, d.max = dec, max
	}
	if uint64(cap(buf)) < dataLen+decodeSlack {
		// (room past the pages lets zstd take its faster copy loops)
		buf = make([]byte, 0, dataLen+decodeSlack)
	}
	data, err := d.dec.DecodeAll(payload, buf[:0])
	if err != nil {
		return buf, fmt.Errorf("memimage: %w", err)
	}
	return data, nil
}

// decodeOnce decompresses payload with a zstd decoder of its own.
func decodeOnce(payload []byte, dataLen uint64) ([]byte, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(dataLen+1<<16),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	defer dec.Close()
	data, err := dec.DecodeAll(payload, make([]byte, 0, dataLen))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	return data, nil
}

// decode1 decodes the first compact form: zstd of the whole memory.
func decode1(b []byte, max int64) ([]byte, error) {
	n := binary.LittleEndian.Uint64(b[8:headerLen])
	if max > 0 && n > uint64(max) {
		return nil, fmt.Errorf("memimage: image of %d bytes is larger than the %d allowed", n, max)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(n+1<<16))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	defer dec.Close()
	mem, err := dec.DecodeAll(b[headerLen:], make([]byte, 0, n))
	if err != nil {
		return nil, fmt.Errorf("memimage: %w", err)
	}
	if uint64(len(mem)) != n {
		return nil, errors.New("memimage: truncated image")
	}
	return mem, nil
}
