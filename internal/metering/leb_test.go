package metering

import (
	"bytes"
	"math/big"
	"math/rand"
	"testing"
)

// naive minimal LEB128 encoders on big.Int, for checking the linear-time ones.
func naiveULEB(v *big.Int) []byte {
	x := new(big.Int).Set(v)
	var out []byte
	for {
		b := byte(new(big.Int).And(x, big.NewInt(0x7f)).Uint64())
		x.Rsh(x, 7)
		if x.Sign() == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func naiveSLEB(v *big.Int) []byte {
	x := new(big.Int).Set(v)
	var out []byte
	for {
		b := byte(new(big.Int).And(x, big.NewInt(0x7f)).Uint64())
		x.Rsh(x, 7)
		if (x.Sign() == 0 && b&0x40 == 0) || (x.Cmp(big.NewInt(-1)) == 0 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

func TestLEB(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 5000; i++ {
		bits := rng.Intn(300)
		v := new(big.Int).Rand(rng, new(big.Int).Lsh(big.NewInt(1), uint(bits+1)))
		if got, want := appendULEBBig(nil, v), naiveULEB(v); !bytes.Equal(got, want) {
			t.Fatalf("uleb %v: %x, want %x", v, got, want)
		}
		if rng.Intn(2) == 0 {
			v.Neg(v)
		}
		want := naiveSLEB(v)
		if got := appendSLEBBig(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("sleb %v: %x, want %x", v, got, want)
		}
		// reading the minimal encoding (and a padded one) gives the value back
		padded := append([]byte{}, want...)
		padded[len(padded)-1] |= 0x80
		if v.Sign() < 0 {
			padded = append(padded, 0x7f)
		} else {
			padded = append(padded, 0x00)
		}
		for _, enc := range [][]byte{want, padded} {
			r := &reader{buf: enc}
			s := r.sleb()
			got := s.big
			if got == nil {
				got = big.NewInt(s.v)
			}
			if got.Cmp(v) != 0 || r.pos != int64(len(enc)) {
				t.Fatalf("sleb read %x: %v, want %v", enc, got, v)
			}
		}
	}
	// past the end: an undefined byte ends the number as if it were 0x00
	r := &reader{buf: []byte{0xff, 0xff}}
	if s := r.sleb(); s.big != nil || s.v != 0x3fff || r.pos != 3 {
		t.Fatalf("past end: %+v pos %d", s, r.pos)
	}
}
