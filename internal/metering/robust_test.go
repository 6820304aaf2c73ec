package metering

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// seeds returns the small test modules used as mutation seeds.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, c := range watCases {
		b := buildWAT(t, c)
		if len(b) <= 2048 {
			out = append(out, b)
		}
	}
	for _, c := range binCases() {
		if len(c.wasm) > 0 && len(c.wasm) <= 2048 {
			out = append(out, c.wasm)
		}
	}
	return out
}

// mutations derives truncated and corrupted inputs from the seeds, deterministically.
func mutations(t testing.TB, perSeed int) [][]byte {
	rng := rand.New(rand.NewSource(1))
	var out [][]byte
	for _, s := range seeds(t) {
		// truncations: every prefix for small seeds, a sample for larger ones
		step := max(1, len(s)/40)
		for n := 0; n < len(s); n += step {
			out = append(out, bytes.Clone(s[:n]))
		}
		for i := 0; i < perSeed; i++ {
			m := bytes.Clone(s)
			switch i % 4 {
			case 0: // flip one byte
				m[rng.Intn(len(m))] = byte(rng.Intn(256))
			case 1: // flip a few bytes after the header
				for k := 0; k < 3 && len(m) > 8; k++ {
					m[8+rng.Intn(len(m)-8)] ^= byte(1 << rng.Intn(8))
				}
			case 2: // insert a byte
				p := rng.Intn(len(m) + 1)
				m = append(m[:p], append([]byte{byte(rng.Intn(256))}, m[p:]...)...)
			case 3: // delete a range
				p := rng.Intn(len(m))
				q := min(len(m), p+1+rng.Intn(8))
				m = append(m[:p], m[q:]...)
			}
			out = append(out, m)
		}
	}
	// garbage with and without a valid header
	for i := 0; i < 200; i++ {
		g := make([]byte, rng.Intn(64))
		rng.Read(g)
		if i%2 == 0 {
			g = append(bytes.Clone(header), g...)
		}
		out = append(out, g)
	}
	return out
}

// meterNoPanic calls Meter and turns a panic into a test failure.
func meterNoPanic(t testing.TB, in []byte, mt string) (out []byte, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Meter panicked on %x: %v", in, r)
		}
	}()
	return Meter(in, mt)
}

// TestRobustness: truncated and corrupted modules never make Meter panic, every failure is an *Error, and
// the result is deterministic. Note that a truncated module is not always an error: the reference reads
// missing bytes as `undefined` and often still produces a module (e.g. a truncated trailing custom section,
// or an empty input, which it returns unchanged); Meter does the same.
func TestRobustness(t *testing.T) {
	ins := mutations(t, 24)
	nerr := 0
	for i, in := range ins {
		mt := meterTypes[i%2]
		out, err := meterNoPanic(t, in, mt)
		if err != nil {
			nerr++
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("non-*Error %T: %v", err, err)
			}
			continue
		}
		out2, err2 := Meter(in, mt)
		if err2 != nil || !bytes.Equal(out, out2) {
			t.Fatalf("non-deterministic result for %x", in)
		}
	}
	if nerr == 0 || nerr == len(ins) {
		t.Errorf("%d of %d inputs refused: the mutations are not exercising both paths", nerr, len(ins))
	}
	t.Logf("%d inputs, %d refused", len(ins), nerr)
}

// TestRobustnessMatchesReference runs the same corrupted inputs through the npm package: Meter must fail
// exactly where the reference throws (with the same exception) and produce the same bytes elsewhere.
func TestRobustnessMatchesReference(t *testing.T) {
	rt := needRef(t)
	perSeed := 24
	if testing.Short() {
		perSeed = 4
	}
	all := mutations(t, perSeed)
	var ins [][]byte
	var types []string
	var gots [][]byte
	var errs []error
	for i, in := range all {
		mt := meterTypes[i%2]
		got, err := meterNoPanic(t, in, mt)
		var me *Error
		if errors.As(err, &me) && me.Kind == KindLimit {
			continue // the reference would not finish on these
		}
		ins, types, gots, errs = append(ins, in), append(types, mt), append(gots, got), append(errs, err)
	}
	refs := rt.meterBatch(t, ins, types)
	same, refused := 0, 0
	for i := range ins {
		if t.Failed() && i > 0 {
			break // one failure is enough to debug
		}
		checkAgainstRef(t, fmt.Sprintf("case %d (%s, input %x)", i, types[i], ins[i]), gots[i], errs[i], refs[i])
		if refs[i].err == "" {
			same++
		} else {
			refused++
		}
	}
	t.Logf("%d corrupted inputs: %d metered identically, %d refused by both", len(ins), same, refused)
}

// FuzzMeter: Meter must never panic, and fail only with *Error.
func FuzzMeter(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in []byte, i64 bool) {
		mt := "i32"
		if i64 {
			mt = "i64"
		}
		_, err := Meter(in, mt)
		var me *Error
		if err != nil && !errors.As(err, &me) {
			t.Fatalf("non-*Error %T: %v", err, err)
		}
	})
}
