package memimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestRoundTripAndSize(t *testing.T) {
	mem := make([]byte, 32<<20) // a memory mostly zero
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ { // ~0.8 MB of live pages
		page := r.IntN(len(mem)/4096) * 4096
		for j := 0; j < 4096; j += 7 {
			mem[page+j] = byte(r.Uint32())
		}
	}
	img, err := Encode(mem)
	if err != nil {
		t.Fatal(err)
	}
	if !IsCompact(img) || len(img) > 2<<20 {
		t.Fatalf("image of %d bytes for a 32 MB memory with 0.8 MB live", len(img))
	}
	got, err := Decode(img, 0)
	if err != nil || !bytes.Equal(got, mem) {
		t.Fatalf("round trip: %v", err)
	}
	if n, err := Size(img); err != nil || n != int64(len(mem)) {
		t.Fatalf("Size of the image = %d, %v; want %d", n, err, len(mem))
	}
	if n, err := Size(encode1(t, mem)); err != nil || n != int64(len(mem)) {
		t.Fatalf("Size of a first-form image = %d, %v; want %d", n, err, len(mem))
	}
	if n, err := Size(mem); err != nil || n != int64(len(mem)) {
		t.Fatalf("Size of a raw memory = %d, %v; want %d", n, err, len(mem))
	}
	if _, err := Decode(img, 1<<20); err == nil {
		t.Fatal("the size bound was not applied")
	}
	if _, err := Decode(img[:len(img)-10], 0); err == nil {
		t.Fatal("a truncated image decoded")
	}
}

func TestRawPassesThrough(t *testing.T) {
	raw := []byte("\x00asm raw memory bytes")
	got, err := Decode(raw, 0)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("raw: %q %v", got, err)
	}
	empty, err := Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decode(empty, 0); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
}

// encode1 writes the first compact form, as aocu before AOCUMEM2 did.
func encode1(t *testing.T, mem []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	out := append([]byte("AOCUMEM1"), binary.LittleEndian.AppendUint64(nil, uint64(len(mem)))...)
	return enc.EncodeAll(mem, out)
}

func TestParseWritesOnlyNonZeroPages(t *testing.T) {
	mem := make([]byte, 40*PageSize+100) // a short last page
	mem[3*PageSize+5] = 1
	mem[4*PageSize] = 2 // a run of two pages
	mem[9*PageSize+4095] = 3
	mem[40*PageSize+99] = 4
	for name, b := range map[string][]byte{"v2": must(Encode(mem)), "v1": encode1(t, mem), "raw": mem} {
		im, err := Parse(b, 0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if im.Len() != int64(len(mem)) || im.DataBytes() != 3*PageSize+100 {
			t.Fatalf("%s: len %d, data %d", name, im.Len(), im.DataBytes())
		}
		if got := im.Runs(); len(got) != 3 || got[0] != (Run{3, 2}) || got[1] != (Run{9, 1}) || got[2] != (Run{40, 1}) {
			t.Fatalf("%s: runs %v", name, got)
		}
		// WriteTo touches only the non-zero pages: a marker elsewhere survives.
		dst := make([]byte, len(mem))
		dst[20*PageSize] = 0xee
		im.WriteTo(dst)
		if dst[20*PageSize] != 0xee {
			t.Fatalf("%s: WriteTo wrote a zero page", name)
		}
		dst[20*PageSize] = 0
		if !bytes.Equal(dst, mem) {
			t.Fatalf("%s: WriteTo differs from the memory", name)
		}
		if got, err := Decode(b, 0); err != nil || !bytes.Equal(got, mem) {
			t.Fatalf("%s: Decode: %v", name, err)
		}
	}
	if _, err := Parse(mem, 100); err == nil {
		t.Fatal("the size bound was not applied to a raw memory")
	}
}

func TestParseRefusesBadRunTables(t *testing.T) {
	mem := make([]byte, 8*PageSize)
	mem[PageSize], mem[5*PageSize] = 1, 1
	img := must(Encode(mem))
	for name, mutate := range map[string]func([]byte){
		"past the end":  func(b []byte) { binary.LittleEndian.PutUint32(b[headerLen+12:], 8) },
		"out of order":  func(b []byte) { binary.LittleEndian.PutUint32(b[headerLen+12:], 0) },
		"empty run":     func(b []byte) { binary.LittleEndian.PutUint32(b[headerLen+8:], 0) },
		"too many runs": func(b []byte) { binary.LittleEndian.PutUint32(b[headerLen:], 1000) },
	} {
		b := bytes.Clone(img)
		mutate(b)
		if _, err := Parse(b, 0); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestSHA256OfTheWholeMemory(t *testing.T) {
	mem := make([]byte, 300*PageSize+123)
	mem[5] = 1
	mem[70*PageSize+9] = 2
	mem[300*PageSize+100] = 3
	im, err := Parse(must(Encode(mem)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if im.SHA256() != sha256.Sum256(mem) {
		t.Fatal("the image's sha256 is not the memory's")
	}
	if (&Image{size: 1 << 20}).SHA256() != sha256.Sum256(make([]byte, 1<<20)) {
		t.Fatal("sha256 of an all-zero image")
	}
}

// A Decoder parses one image after another into its one buffer, each as
// Parse does, and refuses what Parse refuses.
func TestDecoderReusesItsBuffer(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	mems := make([][]byte, 3)
	for k := range mems {
		mems[k] = make([]byte, 8<<20)
		for i := 0; i < 50+k*40; i++ {
			page := r.IntN(len(mems[k])/4096) * 4096
			for j := 0; j < 4096; j += 5 {
				mems[k][page+j] = byte(r.Uint32())
			}
		}
	}
	var d Decoder
	defer d.Close()
	var firstBuf *byte
	for round := 0; round < 2; round++ {
		for k, mem := range mems {
			img, err := Encode(mem)
			if err != nil {
				t.Fatal(err)
			}
			im, err := d.Parse(img, 16<<20)
			if err != nil {
				t.Fatalf("image %d: %v", k, err)
			}
			if !bytes.Equal(im.Bytes(), mem) {
				t.Fatalf("image %d decoded to another memory", k)
			}
			if round == 1 && k == len(mems)-1 {
				if &im.data[0] != firstBuf {
					t.Fatal("the decoder allocated a new buffer for an image that fits its own")
				}
			}
			if round == 0 && k == len(mems)-1 {
				firstBuf = &im.data[0]
			}
		}
	}
	img, _ := Encode(mems[0])
	if _, err := d.Parse(img, 1<<20); err == nil {
		t.Fatal("the size bound was not applied")
	}
	if _, err := d.Parse(img[:len(img)-10], 0); err == nil {
		t.Fatal("a truncated image parsed")
	}
	if im, err := d.Parse(mems[1], 0); err != nil || !bytes.Equal(im.Bytes(), mems[1]) {
		t.Fatalf("a raw memory: %v", err)
	}
}
