package cuhttp_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/aocu/aocu/internal/ao/aotest"
)

// stateChunk is cuhttp's chunk of a /state stream.
const stateChunk = 1 << 20

// A /state larger than one chunk streams whole, with its Content-Length.
func TestStateStreamsLargeMemory(t *testing.T) {
	cu := newCU(t, nil, tuning{})
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "boot")
	n := 3*stateChunk + 123
	cu.w.Send(pid, strconv.Itoa(n), aotest.Action("Grow"))
	r := cu.get("/state/" + pid)
	mem := ":boot\n" + strings.Repeat("\x00", n) + "Grow:" + strconv.Itoa(n) + "\n"
	if r.status != 200 || r.body != mem {
		t.Fatalf("state: %d, %d bytes, want %d", r.status, len(r.body), len(mem))
	}
	if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(mem)) {
		t.Fatalf("Content-Length %s, want %d", got, len(mem))
	}
}
