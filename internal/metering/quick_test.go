package metering

import (
	"bytes"
	"os"
	"testing"
)

func TestQuick(t *testing.T) {
	for _, c := range []struct{ f, t string }{{"aos2_0_6", "i64"}, {"aos2_0_4_32", "i32"}, {"process", "i32"}, {"aos", "i32"}} {
		in, _ := os.ReadFile("../../.fixtures/modules/" + c.f + ".wasm")
		out, err := Meter(in, c.t)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile("/tmp/" + c.f + ".metered.wasm")
		if !bytes.Equal(out, want) {
			os.WriteFile("/tmp/mt/"+c.f+".go.wasm", out, 0o644)
			t.Errorf("%s differs: %d vs %d", c.f, len(out), len(want))
		}
	}
	in, _ := os.ReadFile("../../.fixtures/modules/sqlite.wasm")
	_, err := Meter(in, "i64")
	t.Log(err)
}
