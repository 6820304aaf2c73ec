// Package runtimetest is the behavioural test suite of ao.Runtime, shared by
// the scripted Runtime of aotest and the wasmtime loader on the real aos
// modules, so that the engine's fake cannot drift from the real thing.
//
// A fake module and aos do not understand the same messages, so a Harness
// maps a small vocabulary of intents (start the process, bump a counter,
// read it, fail, loop forever) to its module's own messages and reads the
// counter back from a result; the suite asserts on what both must share:
// memory kept or rolled back, results, errors and timeouts.
//
// It is imported only by tests:
//
//	func TestRuntime(t *testing.T) {
//		runtimetest.Run(t, runtimetest.Harness{…})
//	}
package runtimetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// Intent is what a message means, whatever the module.
type Intent int

const (
	// Init is the process's first message (its spawn).
	Init Intent = iota
	// Bump adds one to a counter in the process's state.
	Bump
	// Read answers the counter (Harness.Counter reads it from the result).
	Read
	// Fail makes the handler fail: an Error result.
	Fail
	// Loop runs forever (a runaway evaluation).
	Loop
)

func (i Intent) String() string {
	return [...]string{"Init", "Bump", "Read", "Fail", "Loop"}[i]
}

// Harness is one runtime and module with its vocabulary.
type Harness struct {
	Runtime ao.Runtime
	// Wasm and Format are the module under test.
	Wasm   []byte
	Format string
	// Options are the options of every instance but Memory.
	Options ao.InstanceOptions
	Env     *ao.Env
	// Message is the message meaning intent, scheduled at nonce.
	Message func(intent Intent, nonce int) *ao.Message
	// Counter reads the counter from the result of a Read message.
	Counter func(r *ao.Result) (int, error)
	// Limit is the time limit of every message but Loop (1 s if 0).
	Limit time.Duration
	// LoopLimit is the time limit of a Loop (300 ms if 0).
	LoopLimit time.Duration
}

// Fixture reads a fixture file for a harness; when it is missing the test is
// skipped with the reason, except on CI (CI=true), where it fails.
func Fixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture missing on CI (scripts/fixtures.sh installs it): %v", err)
		}
		t.Skipf("fixture missing (run ./scripts/fixtures.sh): %v", err)
	}
	return b
}

// Run runs the suite, one subtest per behaviour, each on fresh instances of
// one compiled module.
func Run(t *testing.T, h Harness) {
	if h.Limit <= 0 {
		h.Limit = time.Second
	}
	if h.LoopLimit <= 0 {
		h.LoopLimit = 300 * time.Millisecond
	}
	mod, err := h.Runtime.Compile(t.Context(), h.Wasm, h.Format)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *proc)
	}{
		{"CompileRefusesNonWasm", testCompileRefuses},
		{"MemoryNilBeforeFirstSuccess", testFreshMemory},
		{"ResultShape", testResultShape},
		{"ErrorKeepsMemory", testErrorKeepsMemory},
		{"DryRunKeepsMemory", testDryRun},
		{"RestoredInstanceContinuesIdentically", testRestore},
		{"TimeoutStopsARunawayEvaluation", testTimeout},
		{"StreamsKeepMemory", testStreams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, &proc{h: &h, mod: mod}) })
	}
}

// proc drives instances of the module for one test.
type proc struct {
	h     *Harness
	mod   ao.CompiledModule
	nonce int
}

func (p *proc) instance(t *testing.T, memory []byte) ao.Instance {
	t.Helper()
	o := p.h.Options
	o.Memory = memory
	in, err := p.mod.Instantiate(t.Context(), o)
	if err != nil {
		t.Fatalf("Instantiate: %v", err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// next is the message of intent at the next nonce.
func (p *proc) next(i Intent) *ao.Message {
	m := p.h.Message(i, p.nonce)
	p.nonce++
	return m
}

func (p *proc) handle(t *testing.T, in ao.Instance, stream uint64, i Intent) *ao.Result {
	t.Helper()
	r, err := in.Handle(t.Context(), stream, p.next(i), p.h.Env, p.h.Limit)
	if err != nil {
		t.Fatalf("Handle(%v): %v", i, err)
	}
	if r == nil {
		t.Fatalf("Handle(%v): no result", i)
	}
	if i == Fail {
		if !r.Failed() {
			t.Fatalf("Handle(%v) did not fail: %s", i, r.Output)
		}
	} else if r.Failed() {
		t.Fatalf("Handle(%v) failed: %s", i, r.Error)
	}
	return r
}

func (p *proc) read(t *testing.T, in ao.Instance, stream uint64) int {
	t.Helper()
	n, err := p.h.Counter(p.handle(t, in, stream, Read))
	if err != nil {
		t.Fatalf("reading the counter: %v", err)
	}
	return n
}

func (p *proc) dryRead(t *testing.T, in ao.Instance) int {
	t.Helper()
	m := p.next(Read)
	m.ReadOnly = true
	r, err := in.DryRun(t.Context(), m, p.h.Env, p.h.Limit)
	if err != nil || r == nil || r.Failed() {
		t.Fatalf("DryRun(Read): %v %+v", err, r)
	}
	n, err := p.h.Counter(r)
	if err != nil {
		t.Fatalf("reading the counter: %v", err)
	}
	return n
}

// started is an instance that evaluated Init and one Bump on stream 1.
func (p *proc) started(t *testing.T) ao.Instance {
	t.Helper()
	in := p.instance(t, nil)
	p.handle(t, in, 1, Init)
	p.handle(t, in, 1, Bump)
	return in
}

func sameMemory(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: memory changed (%d bytes, was %d)", what, len(got), len(want))
	}
}

func testCompileRefuses(t *testing.T, p *proc) {
	for _, b := range [][]byte{nil, []byte("not a wasm module"), []byte("\x7fELF\x02\x01\x01")} {
		_, err := p.h.Runtime.Compile(t.Context(), b, p.h.Format)
		if !errors.Is(err, ao.ErrInvalidModule) {
			t.Fatalf("Compile(%.10q) = %v, want ao.ErrInvalidModule", b, err)
		}
	}
}

func testFreshMemory(t *testing.T, p *proc) {
	in := p.instance(t, nil)
	if m := in.Memory(); m != nil {
		t.Fatalf("a fresh instance has %d bytes of memory before any message", len(m))
	}
	p.handle(t, in, 1, Fail)
	if m := in.Memory(); m != nil {
		t.Fatalf("a fresh instance has %d bytes of memory after a failed first message", len(m))
	}
	p.handle(t, in, 1, Init)
	if len(in.Memory()) == 0 {
		t.Fatal("no memory after the first message")
	}
}

func isArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return json.Unmarshal(raw, &a) == nil && a != nil
}

func testResultShape(t *testing.T, p *proc) {
	in := p.started(t)
	r := p.handle(t, in, 1, Bump)
	if !isArray(r.Messages) || !isArray(r.Spawns) || !isArray(r.Assignments) {
		t.Fatalf("a success's Messages %s, Spawns %s, Assignments %s are not all JSON arrays", r.Messages, r.Spawns, r.Assignments)
	}
	if r.Error != nil || r.Rejected {
		t.Fatalf("a success has Error %s, Rejected %v", r.Error, r.Rejected)
	}
	if r.GasUsed < 0 {
		t.Fatalf("GasUsed %v", r.GasUsed)
	}
	f := p.handle(t, in, 1, Fail)
	if !json.Valid(f.Error) {
		t.Fatalf("a failure's Error %q is not JSON", f.Error)
	}
}

func testErrorKeepsMemory(t *testing.T, p *proc) {
	in := p.started(t)
	before := p.read(t, in, 1)
	mem := slices.Clone(in.Memory())
	p.handle(t, in, 1, Fail)
	sameMemory(t, "after an Error result", in.Memory(), mem)
	if n := p.read(t, in, 1); n != before {
		t.Fatalf("counter %d after an Error result, was %d", n, before)
	}
	p.handle(t, in, 1, Bump)
	if n := p.read(t, in, 1); n != before+1 {
		t.Fatalf("counter %d after an Error result and a Bump, want %d", n, before+1)
	}
}

func testDryRun(t *testing.T, p *proc) {
	in := p.started(t)
	before := p.read(t, in, 1)
	mem := slices.Clone(in.Memory())
	for _, i := range []Intent{Bump, Fail} {
		m := p.next(i)
		m.ReadOnly = true
		r, err := in.DryRun(t.Context(), m, p.h.Env, p.h.Limit)
		if err != nil || r == nil || r.Failed() != (i == Fail) {
			t.Fatalf("DryRun(%v) = %+v, %v", i, r, err)
		}
		sameMemory(t, "after DryRun("+i.String()+")", in.Memory(), mem)
	}
	if n := p.dryRead(t, in); n != before {
		t.Fatalf("a dry-run read %d, want %d", n, before)
	}
	sameMemory(t, "after DryRun(Read)", in.Memory(), mem)
	// The next scheduled message carries on from the state before the dry-runs.
	p.handle(t, in, 2, Bump)
	if n := p.read(t, in, 2); n != before+1 {
		t.Fatalf("counter %d after dry-runs and a Bump, want %d", n, before+1)
	}
}

func testRestore(t *testing.T, p *proc) {
	a := p.started(t)
	mem := slices.Clone(a.Memory())
	b := p.instance(t, mem)
	sameMemory(t, "a restored instance", b.Memory(), mem)
	m := p.next(Bump)
	ra, err := a.Handle(t.Context(), 2, m, p.h.Env, p.h.Limit)
	if err != nil || ra.Failed() {
		t.Fatalf("Bump on the original: %v %+v", err, ra)
	}
	rb, err := b.Handle(t.Context(), 1, m, p.h.Env, p.h.Limit)
	if err != nil || rb.Failed() {
		t.Fatalf("Bump on the restored: %v %+v", err, rb)
	}
	if !bytes.Equal(ra.Output, rb.Output) || !bytes.Equal(ra.Messages, rb.Messages) {
		t.Fatalf("the restored instance answered %s %s, the original %s %s", rb.Output, rb.Messages, ra.Output, ra.Messages)
	}
	sameMemory(t, "the restored instance after the same message", b.Memory(), a.Memory())
	r := p.next(Read)
	na, nb := counter(t, p, a, 2, r), counter(t, p, b, 1, r)
	if na != nb {
		t.Fatalf("counters %d (original) and %d (restored)", na, nb)
	}
}

func counter(t *testing.T, p *proc, in ao.Instance, stream uint64, m *ao.Message) int {
	t.Helper()
	r, err := in.Handle(t.Context(), stream, m, p.h.Env, p.h.Limit)
	if err != nil || r.Failed() {
		t.Fatalf("Read: %v %+v", err, r)
	}
	n, err := p.h.Counter(r)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testTimeout(t *testing.T, p *proc) {
	in := p.started(t)
	before := p.read(t, in, 1)
	mem := slices.Clone(in.Memory())
	limit := p.h.LoopLimit
	start := time.Now()
	_, err := in.Handle(t.Context(), 1, p.next(Loop), p.h.Env, limit)
	if !errors.Is(err, ao.ErrEvalTimeout) {
		t.Fatalf("a runaway evaluation: %v, want ao.ErrEvalTimeout", err)
	}
	if d := time.Since(start); d > limit+5*time.Second {
		t.Fatalf("stopped after %v with a limit of %v", d, limit)
	}
	sameMemory(t, "after a timeout", in.Memory(), mem)
	m := p.next(Loop)
	m.ReadOnly = true
	if _, err := in.DryRun(t.Context(), m, p.h.Env, limit); !errors.Is(err, ao.ErrEvalTimeout) {
		t.Fatalf("a runaway dry-run: %v, want ao.ErrEvalTimeout", err)
	}
	sameMemory(t, "after a dry-run's timeout", in.Memory(), mem)
	if n := p.read(t, in, 2); n != before {
		t.Fatalf("counter %d after a timeout, was %d", n, before)
	}
	p.handle(t, in, 2, Bump)
	if n := p.read(t, in, 2); n != before+1 {
		t.Fatalf("counter %d after a timeout and a Bump, want %d", n, before+1)
	}
}

// testStreams: a new stream keeps the memory; the same counts on one stream
// and across streams.
func testStreams(t *testing.T, p *proc) {
	one := p.instance(t, nil)
	p.handle(t, one, 1, Init)
	base := p.read(t, one, 1)
	p.handle(t, one, 1, Bump)
	p.handle(t, one, 1, Bump)
	if n := p.read(t, one, 1); n != base+2 {
		t.Fatalf("two Bumps on one stream: %d, want %d", n, base+2)
	}
	many := p.instance(t, nil)
	p.handle(t, many, 5, Init)
	p.handle(t, many, 6, Bump)
	p.handle(t, many, 7, Bump)
	if n := p.read(t, many, 8); n != base+2 {
		t.Fatalf("two Bumps on new streams: %d, want %d", n, base+2)
	}
}
