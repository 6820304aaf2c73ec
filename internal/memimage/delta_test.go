package memimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// heapLike is a memory of n bytes whose pages listed in shared hold a
// pattern every process has, and whose pages listed in own hold bytes of
// the process seed.
func heapLike(n int, shared, own []int, seed uint64) []byte {
	mem := make([]byte, n)
	fill := func(page int, r *rand.Rand) {
		for j := page * PageSize; j < min((page+1)*PageSize, n); j += 5 {
			mem[j] = byte(r.Uint32()) | 1
		}
	}
	for _, p := range shared {
		fill(p, rand.New(rand.NewPCG(uint64(p), 7)))
	}
	r := rand.New(rand.NewPCG(seed, 9))
	for _, p := range own {
		fill(p, r)
	}
	return mem
}

// sameImage fails unless a and b are the same image: length, runs, pages.
func sameImage(t *testing.T, what string, got, want *Image) {
	t.Helper()
	if got.Len() != want.Len() || !slices.Equal(got.Runs(), want.Runs()) || !bytes.Equal(got.data, want.data) {
		t.Fatalf("%s: image of %d bytes, runs %v; want %d bytes, runs %v", what, got.Len(), got.Runs(), want.Len(), want.Runs())
	}
}

// manyPages are pages 0..119: a delta of them holds more ranges than S2 is
// used for.
var manyPages = func() []int {
	var l []int
	for i := range 120 {
		l = append(l, i)
	}
	return l
}()

func TestDeltaRoundTrip(t *testing.T) {
	const n = 64 * PageSize
	baseMem := heapLike(n, []int{0, 1, 2, 3, 10, 11, 12, 40}, []int{20, 21}, 1)
	base := NewBase(FromMemory(baseMem))
	cases := map[string][]byte{
		"same shared pages, own pages elsewhere": heapLike(n, []int{0, 1, 2, 3, 10, 11, 12, 40}, []int{30, 31, 32}, 2),
		"a base page zero here":                  heapLike(n, []int{0, 1, 2, 10, 11, 12, 40}, []int{20}, 3),
		"the base itself":                        baseMem,
		"longer than the base":                   heapLike(n+9*PageSize+123, []int{0, 1, 2, 3, 10, 11, 12, 40}, []int{65, 70, 72}, 4),
		"shorter, last page short":               heapLike(11*PageSize+100, []int{0, 1, 2, 3, 10, 11}, []int{5}, 5),
		"shorter, cut inside a base page":        heapLike(40*PageSize+17, []int{0, 1, 2, 3, 10, 11, 12, 40}, nil, 6),
		"shorter, at a page boundary":            heapLike(30*PageSize, []int{0, 1, 2, 3, 10, 11, 12}, []int{25}, 8),
		"all zero":                               make([]byte, n),
		"nothing shared":                         heapLike(n, nil, []int{0, 1, 2, 3, 10, 11, 12, 40, 50}, 7),
		"many pages rewritten (zstd)":            heapLike(200*PageSize, nil, manyPages, 12),
	}
	var dec Decoder
	defer dec.Close()
	for name, mem := range cases {
		t.Run(name, func(t *testing.T) {
			plain := FromMemory(mem)
			d, err := EncodeDelta(plain, base)
			if err != nil || !IsDelta(d) || IsCompact(d) {
				t.Fatalf("EncodeDelta: delta %v, %v", IsDelta(d), err)
			}
			if sz, err := Size(d); err != nil || sz != int64(len(mem)) {
				t.Fatalf("Size = %d, %v; want %d", sz, err, len(mem))
			}
			got, err := ParseWith(d, base, 0)
			if err != nil {
				t.Fatal(err)
			}
			sameImage(t, "ParseWith", got, plain)
			got, err = dec.ParseWith(d, base, 0)
			if err != nil {
				t.Fatal(err)
			}
			sameImage(t, "Decoder.ParseWith", got, plain)
			raw, err := DecodeWith(d, base, 0)
			if err != nil || !bytes.Equal(raw, mem) {
				t.Fatalf("DecodeWith: equal %v, %v", bytes.Equal(raw, mem), err)
			}
			applied(t, d, base, &dec, mem)
			if name == "many pages rewritten (zstd)" {
				_, runs, _, err := readHeader(d, deltaHeaderLen, 0)
				if err != nil {
					t.Fatal(err)
				}
				if h, err := readXorHeader(d, deltaHeaderLen+4+8*len(runs), runs); err != nil || h.codec != codecZstd || len(h.raw) == 0 {
					t.Fatalf("codec %d, %d raw pages (%v): want zstd and raw pages", h.codec, len(h.raw), err)
				}
			}
			full, err := Expand(d, base, 0)
			if err != nil || !IsCompact(full) {
				t.Fatalf("Expand: %v", err)
			}
			if raw, err := Decode(full, 0); err != nil || !bytes.Equal(raw, mem) {
				t.Fatalf("the expanded image does not decode to the memory without the base: %v", err)
			}
		})
	}
	// Only the pages that differ are in the delta.
	own := FromMemory(cases["same shared pages, own pages elsewhere"])
	runs, _, ranges, nd := xorDiff(own, base)
	if want := []Run{{20, 2}, {30, 3}}; !slices.Equal(runs, want) || nd != 5*PageSize {
		t.Fatalf("delta pages %v (%d bytes), want %v (the process's own pages and the base's it lacks)", runs, nd, want)
	}
	if got := DiffImage(own, base).DeltaBytes(); got != len(ranges) || got == 0 {
		t.Fatalf("DeltaBytes = %d, the delta's ranges %d bytes", got, len(ranges))
	}
	if self, _, ranges, _ := xorDiff(base.Image(), base); len(self) != 0 || len(ranges) != 0 {
		t.Fatalf("the base against itself: %v, %d bytes of ranges", self, len(ranges))
	}
}

// applied checks that delta d, written over a memory holding its base's
// pages (Delta.ApplyTo, as a scratch fork loads it), makes mem; where the
// memory's length cuts a page of the base, Cut refuses.
func applied(t *testing.T, d []byte, base *Base, dec *Decoder, mem []byte) {
	t.Helper()
	x, err := dec.ReadDelta(d, base, 0)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != int64(len(mem)) {
		t.Fatalf("Delta.Len = %d, want %d", x.Len(), len(mem))
	}
	cut := x.Base().Cut(x.Len())
	if cut == nil {
		if x.Len()%PageSize == 0 || x.Len() >= base.Image().Len() {
			t.Fatalf("Cut(%d) of a base of %d bytes refused", x.Len(), base.Image().Len())
		}
		return
	}
	got := make([]byte, len(mem)+3*PageSize) // (an instance's memory may be longer)
	cut.WriteTo(got)
	x.ApplyTo(got)
	if !bytes.Equal(got[:len(mem)], mem) || !isZero(got[len(mem):]) {
		t.Fatal("the delta written over its base does not make the memory")
	}
}

// A page that differs from the base's in a few words is held as those
// words, not as the page.
func TestDeltaHoldsTheWordsThatDiffer(t *testing.T) {
	const n = 16 * PageSize
	baseMem := heapLike(n, []int{0, 1, 2, 3}, nil, 1)
	base := NewBase(FromMemory(baseMem))
	mem := bytes.Clone(baseMem)
	mem[PageSize+3] ^= 0x40        // a mark bit in page 1
	mem[3*PageSize+100] ^= 1       // and two words of page 3
	mem[3*PageSize+2000] = 0       // (a byte made zero)
	mem[5*PageSize+PageSize-1] = 7 // a page the base lacks
	runs, raw, ranges, _ := xorDiff(FromMemory(mem), base)
	if want := []Run{{1, 1}, {3, 1}, {5, 1}}; !slices.Equal(runs, want) || len(raw) != 0 {
		t.Fatalf("runs %v (raw %v), want %v", runs, raw, want)
	}
	// Four ranges of one word each: 2 bytes of gap and length, 8 of word.
	if len(ranges) > 4*(8+4) {
		t.Fatalf("%d bytes of ranges for 4 words that differ", len(ranges))
	}
	d, err := EncodeDelta(FromMemory(mem), base)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := DecodeWith(d, base, 0); err != nil || !bytes.Equal(raw, mem) {
		t.Fatalf("DecodeWith: equal %v, %v", bytes.Equal(raw, mem), err)
	}
	// A page rewritten (most of its words differ from the base's) is held
	// raw, not XORed: the XOR would hold as many words, less compressible.
	r := rand.New(rand.NewPCG(5, 5))
	for j := 2 * PageSize; j < 3*PageSize; j += 3 {
		mem[j] = byte(r.Uint32()) | 1
	}
	if runs, raw, _, _ := xorDiff(FromMemory(mem), base); !slices.Equal(raw, []uint32{2}) || !slices.Equal(runs, []Run{{1, 3}, {5, 1}}) {
		t.Fatalf("runs %v, raw pages %v: want page 2 raw", runs, raw)
	}
	d, err = EncodeDelta(FromMemory(mem), base)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeWith(d, base, 0); err != nil || !bytes.Equal(got, mem) {
		t.Fatalf("DecodeWith with a raw page: equal %v, %v", bytes.Equal(got, mem), err)
	}
	var dec Decoder
	defer dec.Close()
	applied(t, d, base, &dec, mem)
}

// Deltas of the first form (the differing pages whole, AOCUMEMD: file
// checkpoints written before the XOR form) still decode.
func TestDeltaOfTheFirstFormStillReads(t *testing.T) {
	const n = 64 * PageSize
	base := NewBase(FromMemory(heapLike(n, []int{0, 1, 2, 3, 10, 11, 12, 40}, []int{20, 21}, 1)))
	mem := heapLike(n+3*PageSize, []int{0, 1, 2, 10, 11, 12, 40}, []int{30, 31, 32, 65}, 2)
	var pages pageAppender
	im := FromMemory(mem)
	eachDiff(im.size, im.pages, base, pages.add)
	enc, err := NewEncoder(1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	hdr := make([]byte, deltaHeaderLen+4+8*len(pages.runs))
	copy(hdr, magicDelta[:])
	binary.LittleEndian.PutUint64(hdr[8:], uint64(len(mem)))
	id := base.ID()
	copy(hdr[16:], id[:])
	putRuns(hdr[deltaHeaderLen:], pages.runs)
	d := enc.zst.EncodeAll(pages.data, hdr)
	if !IsDelta(d) {
		t.Fatal("not a delta")
	}
	if got, err := DeltaBaseID(d); err != nil || got != id {
		t.Fatalf("DeltaBaseID: %v", err)
	}
	var dec Decoder
	defer dec.Close()
	for _, reuse := range []*Decoder{nil, &dec} {
		var im *Image
		if reuse == nil {
			im, err = ParseWith(d, base, 0)
		} else {
			im, err = reuse.ParseWith(d, base, 0)
		}
		if err != nil {
			t.Fatal(err)
		}
		sameImage(t, "first form", im, FromMemory(mem))
	}
	applied(t, d, base, &dec, mem)
}

// EncodeAgainst makes a delta only when it is smaller than the plain image.
func TestEncodeAgainstPicksTheSmaller(t *testing.T) {
	const n = 32 * PageSize
	base := NewBase(FromMemory(heapLike(n, []int{0, 1, 2, 3, 4, 5}, nil, 1)))
	b, delta, err := EncodeAgainst(FromMemory(heapLike(n, []int{0, 1, 2, 3, 4, 5}, []int{9}, 2)), base)
	if err != nil || !delta || !IsDelta(b) {
		t.Fatalf("shared image: delta %v, %v", delta, err)
	}
	unlike := heapLike(n, nil, []int{0, 1, 2, 3, 4, 5}, 3)
	b, delta, err = EncodeAgainst(FromMemory(unlike), base)
	if err != nil || delta || !IsCompact(b) {
		t.Fatalf("unlike image: delta %v, compact %v, %v", delta, IsCompact(b), err)
	}
	if raw, err := ParseWith(b, base, 0); err != nil || !bytes.Equal(raw.Bytes(), unlike) {
		t.Fatalf("ParseWith of a plain image: %v", err)
	}
	if b, delta, err = EncodeAgainst(FromMemory(unlike), nil); err != nil || delta || !IsCompact(b) {
		t.Fatalf("no base: delta %v, %v", delta, err)
	}
}

func TestDeltaRefusesWrongOrMissingBase(t *testing.T) {
	const n = 16 * PageSize
	base := NewBase(FromMemory(heapLike(n, []int{0, 1, 2}, nil, 1)))
	other := NewBase(FromMemory(heapLike(n, []int{0, 1, 2}, []int{3}, 2)))
	d, err := EncodeDelta(FromMemory(heapLike(n, []int{0, 1, 2}, []int{5}, 3)), base)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := DeltaBaseID(d); err != nil || id != base.ID() {
		t.Fatalf("DeltaBaseID = %x, %v; want %x", id, err, base.ID())
	}
	if _, err := ParseWith(d, other, 0); err == nil || !strings.Contains(err.Error(), "made against base") {
		t.Fatalf("ParseWith with another base: %v", err)
	}
	var dec Decoder
	defer dec.Close()
	for name, f := range map[string]func() error{
		"ParseWith nil":   func() error { _, err := ParseWith(d, nil, 0); return err },
		"Decoder nil":     func() error { _, err := dec.ParseWith(d, nil, 0); return err },
		"Parse":           func() error { _, err := Parse(d, 0); return err },
		"Decoder.Parse":   func() error { _, err := dec.Parse(d, 0); return err },
		"Decode":          func() error { _, err := Decode(d, 0); return err },
		"Expand nil":      func() error { _, err := Expand(d, nil, 0); return err },
		"EncodeDelta nil": func() error { _, err := EncodeDelta(base.Image(), nil); return err },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "base") {
			t.Errorf("%s of a delta without its base: %v, want an error naming the base", name, err)
		}
	}
	if _, err := ParseWith(d, base, 8*PageSize); err == nil {
		t.Error("a delta image larger than the bound was accepted")
	}
}

func TestDeltaRefusesMalformedInput(t *testing.T) {
	const n = 16 * PageSize
	base := NewBase(FromMemory(heapLike(n, []int{0, 1, 2}, nil, 1)))
	d, err := EncodeDelta(FromMemory(heapLike(n, []int{0, 1, 2}, []int{5, 6, 9}, 3)), base)
	if err != nil {
		t.Fatal(err)
	}
	var dec Decoder
	defer dec.Close()
	for cut := deltaHeaderLen; cut < len(d); cut += max(1, (len(d)-deltaHeaderLen)/40) {
		if _, err := ParseWith(d[:cut], base, 0); err == nil {
			t.Fatalf("a delta cut at %d of %d bytes was accepted", cut, len(d))
		}
		if _, err := dec.ParseWith(d[:cut], base, 0); err == nil {
			t.Fatalf("a delta cut at %d of %d bytes was accepted by a Decoder", cut, len(d))
		}
	}
	bad := slices.Clone(d)
	bad[deltaHeaderLen+4] = 200 // first run past the memory
	if _, err := ParseWith(bad, base, 0); err == nil {
		t.Fatal("a run past the memory was accepted")
	}
	bad = slices.Clone(d)
	bad[8+6] = 0xff // a length beyond any memory
	if _, err := ParseWith(bad, base, 0); err == nil {
		t.Fatal("a huge memory length was accepted")
	}
	if IsDelta(d[:deltaHeaderLen-1]) {
		t.Fatal("a short header is a delta")
	}
	// A damaged byte anywhere past the header is refused (the ranges'
	// checksum, or their block's framing).
	for at := deltaHeaderLen + 4 + 8*int(binary.LittleEndian.Uint32(d[deltaHeaderLen:])); at < len(d); at++ {
		bad := slices.Clone(d)
		bad[at] ^= 0x10
		if _, err := ParseWith(bad, base, 0); err == nil {
			t.Fatalf("a delta damaged at byte %d of %d was accepted", at, len(d))
		}
		if _, err := dec.ReadDelta(bad, base, 0); err == nil {
			t.Fatalf("a delta damaged at byte %d of %d was read", at, len(d))
		}
	}
	// Ranges that leave the pages the runs list (3 pages here), or end
	// inside a range's bytes, are refused.
	runs, _, _, _ := xorDiff(FromMemory(heapLike(n, []int{0, 1, 2}, []int{5, 6, 9}, 3)), base)
	enc, err := NewEncoder(1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for name, ranges := range map[string][]byte{
		"gap past the pages":    {0x80, 0x60, 1, 7}, // gap 3*4096+... (12288), 1 byte
		"range past the pages":  {0xf8, 0x5f, 16},   // gap 12280, 16 bytes (given 0)
		"bytes missing":         {0, 8, 1, 2, 3},    // 8 bytes announced, 3 given
		"varint cut":            {0x80},             // a gap's varint cut short
		"huge gap, overflowing": {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 9},
	} {
		bad, _ := enc.encodeDelta(n, base, runs, nil, ranges)
		if _, err := ParseWith(bad, base, 0); err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if _, err := dec.ParseWith(bad, base, 0); err == nil {
			t.Fatalf("%s: accepted by a Decoder", name)
		}
	}
}

// A Decoder decoding deltas again and again reuses its buffers.
func TestDecoderReusesItsBuffersForDeltas(t *testing.T) {
	const n = 256 * PageSize
	shared := make([]int, 100)
	for i := range shared {
		shared[i] = i
	}
	base := NewBase(FromMemory(heapLike(n, shared, nil, 1)))
	var imgs [][]byte
	for s := range 4 {
		d, err := EncodeDelta(FromMemory(heapLike(n, shared, []int{120 + s, 200}, uint64(s))), base)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, d)
	}
	var dec Decoder
	defer dec.Close()
	first, err := dec.ParseWith(imgs[0], base, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := &first.data[0]
	for _, d := range imgs[1:] {
		im, err := dec.ParseWith(d, base, 0)
		if err != nil {
			t.Fatal(err)
		}
		if &im.data[0] != at {
			t.Fatal("a Decoder allocated new pages for the next delta")
		}
	}
}

// One Encoder, used again and again and from several goroutines at once,
// makes the same images as the package's functions (each with an encoder of
// its own).
func TestEncoderReusedAndShared(t *testing.T) {
	const n = 64 * PageSize
	base := NewBase(FromMemory(heapLike(n, []int{0, 1, 2, 3, 10, 11}, []int{20}, 1)))
	enc, err := NewEncoder(2)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			errs <- func() error {
				for i := range 5 {
					im := FromMemory(heapLike(n, []int{0, 1, 2, 3, 10, 11}, []int{30 + i, 40 + g}, uint64(10*g+i)))
					plain, err := im.Encode()
					if err != nil {
						return err
					}
					if got := enc.Encode(im); !bytes.Equal(got, plain) {
						return errors.New("Encoder.Encode differs from Image.Encode")
					}
					want, wantDelta, err := EncodeAgainst(im, base)
					if err != nil {
						return err
					}
					got, delta := enc.EncodeAgainst(im, base)
					if !bytes.Equal(got, want) || delta != wantDelta || !delta {
						return fmt.Errorf("Encoder.EncodeAgainst differs from EncodeAgainst (delta %v, want %v)", delta, wantDelta)
					}
					expanded, err := enc.Expand(got, base, 0)
					if err != nil {
						return err
					}
					if !bytes.Equal(expanded, plain) {
						return errors.New("Encoder.Expand of the delta is not the plain image")
					}
				}
				return nil
			}()
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// A delta made from the memory itself (no page image) is byte for byte the
// delta of its page image, with the same counts: pages shared with the base,
// touched up, rewritten, zero in the memory but not in the base, beyond the
// base, a backed page that is zero, and pages the kernel says hold nothing.
func TestDiffMemoryIsTheDeltaOfTheImage(t *testing.T) {
	const n = 64 * PageSize
	base := NewBase(FromMemory(heapLike(n, []int{0, 1, 2, 3, 10, 11, 12, 40}, []int{20, 21}, 1)))
	enc, err := NewEncoder(1)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for _, c := range []struct {
		name  string
		mem   []byte
		maybe func(int) bool
	}{
		{"close", heapLike(n+3*PageSize, []int{0, 1, 2, 10, 11, 12, 40}, []int{30, 31, 32, 65}, 2), nil},
		{"touched up", touchUp(heapLike(n, []int{0, 1, 2, 3, 10, 11, 12, 40}, []int{20, 21}, 1), 2, 11, 21), nil},
		{"backed pages only", heapLike(n, []int{0, 1, 2, 3, 10, 11, 12, 40}, []int{44}, 3), func(pg int) bool { return pg != 3 && pg != 63 }},
		{"far", heapLike(n, nil, []int{5, 6, 7, 8, 9, 50}, 4), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := c.mem
			if c.maybe != nil { // what the kernel says holds nothing is zero
				for pg := range len(mem) / PageSize {
					if !c.maybe(pg) {
						clear(mem[pg*PageSize : (pg+1)*PageSize])
					}
				}
			}
			im := FromMemoryWhere(mem, c.maybe)
			d := DiffMemory(mem, c.maybe, base)
			if d.DataBytes() != im.DataBytes() || d.DeltaBytes() != DiffImage(im, base).DeltaBytes() {
				t.Fatalf("data %d, delta %d bytes; the image's: %d, %d", d.DataBytes(), d.DeltaBytes(), im.DataBytes(), DiffImage(im, base).DeltaBytes())
			}
			want, delta := enc.EncodeAgainst(im, base)
			got, ok := enc.EncodeDiff(d)
			if ok != delta || (ok && !bytes.Equal(got, want)) {
				t.Fatalf("EncodeDiff: %d bytes, delta %v; EncodeAgainst: %d bytes, delta %v", len(got), ok, len(want), delta)
			}
			if !ok {
				return
			}
			back, err := ParseWith(got, base, 0)
			if err != nil {
				t.Fatal(err)
			}
			sameImage(t, "read back", back, im)
		})
	}
}

// touchUp changes one word of each page.
func touchUp(mem []byte, pages ...int) []byte {
	for _, pg := range pages {
		mem[pg*PageSize+64] ^= 0x5a
	}
	return mem
}

// Bases are ranked on a sample of the pages: every page is DeltaBytes, and
// every 8th ranks a close image before a far one as the full measure does.
func TestSampledDeltaBytesRanksBases(t *testing.T) {
	const n = 256 * PageSize
	shared := make([]int, 0, 200)
	for pg := range 200 {
		shared = append(shared, pg)
	}
	base := NewBase(FromMemory(heapLike(n, shared, nil, 1)))
	close := FromMemory(touchUp(heapLike(n, shared, nil, 1), 3, 40, 77, 150, 199))
	far := FromMemory(heapLike(n, shared[:100], shared[100:], 2)) // pages rewritten
	for _, im := range []*Image{close, far} {
		if got, want := base.SampledDeltaBytes(im, 1), DiffImage(im, base).DeltaBytes(); got != want || want == 0 {
			t.Fatalf("SampledDeltaBytes(1) = %d, DeltaBytes %d", got, want)
		}
	}
	if c, f := base.SampledDeltaBytes(close, 8), base.SampledDeltaBytes(far, 8); c >= f || DiffImage(close, base).DeltaBytes() >= DiffImage(far, base).DeltaBytes() {
		t.Fatalf("sampled: close %d, far %d; full: close %d, far %d", c, f, DiffImage(close, base).DeltaBytes(), DiffImage(far, base).DeltaBytes())
	}
}
