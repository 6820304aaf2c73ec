package memimage

import (
	"bytes"
	"math/rand/v2"
	"testing"
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
