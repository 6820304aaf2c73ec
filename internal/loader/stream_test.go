package loader

import (
	"bytes"
	"context"
	"testing"
)

// clockCode reads the glue's clock (Date.now counter) into the state and the
// output, so that results depend on the instance's JavaScript state.
const clockCode = "print('tick'); Seen = (Seen or '') .. os.date('!%H:%M:%S') .. tostring(os.clock()) .. ';'; return Seen"

// TestBeginStreamIsAFreshInstance: after BeginStream, a warm process computes
// what a new instance built from its memory computes (the reference builds one
// per evaluation stream), and a rollback replays the reset too.
func TestBeginStreamIsAFreshInstance(t *testing.T) {
	m := module(t, aos64)
	env, msgs := scenario(t, "probe", aos64)
	warm := startProcess(t, m, ProcessOptions{SnapshotRatio: 1e9}, env, msgs[:4])
	ctx := context.Background()
	if r, err := warm.Handle(ctx, evalMsg(t, msgs[1], "C1", 10, clockCode), env); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	warm.BeginStream()
	image := append([]byte(nil), warm.Memory()...)
	fresh, err := m.NewProcess(ctx, ProcessOptions{Memory: image})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	msg := evalMsg(t, msgs[1], "C2", 11, clockCode)
	a, err := warm.Handle(ctx, msg, env)
	if err != nil || a.Failed() {
		t.Fatalf("%v %+v", err, a)
	}
	b, err := fresh.Handle(ctx, msg, env)
	if err != nil || b.Failed() {
		t.Fatalf("%v %+v", err, b)
	}
	if !bytes.Equal(a.Output, b.Output) || memHash(warm) != memHash(fresh) {
		t.Fatalf("warm after BeginStream differs from a fresh instance:\n%s\n%s", a.Output, b.Output)
	}
	// A rollback replays the log, stream reset included.
	before := memHash(warm)
	if r, err := warm.Handle(ctx, evalMsg(t, msgs[1], "E", 12, "error('boom')"), env); err != nil || !r.Failed() {
		t.Fatalf("expected an error result: %v %+v", err, r)
	}
	if warm.Stats().Replayed == 0 {
		t.Fatal("the rollback replayed nothing; the test does not exercise the replay")
	}
	if memHash(warm) != before {
		t.Fatal("rollback over a stream reset does not reproduce the state")
	}
}

// TestHandleReadOnly: a read-only message sees the state, returns its result
// and leaves the process exactly as before.
func TestHandleReadOnly(t *testing.T) {
	m := module(t, aos64)
	env, msgs := scenario(t, "probe", aos64)
	ctx := context.Background()
	for _, ratio := range []float64{1e-9, 1e9} { // snapshot every message / never
		p := startProcess(t, m, ProcessOptions{SnapshotRatio: ratio}, env, msgs[:4])
		p.BeginStream()
		before := memHash(p)
		image := append([]byte(nil), p.Memory()...)
		dry := evalMsg(t, msgs[1], "DRY", 50, "Dry = 'written'; "+clockCode)
		r, err := p.HandleReadOnly(ctx, dry, env)
		if err != nil || r.Failed() {
			t.Fatalf("read-only: %v %+v", err, r)
		}
		if memHash(p) != before {
			t.Fatal("read-only message changed the memory")
		}
		fresh, err := m.NewProcess(ctx, ProcessOptions{Memory: image})
		if err != nil {
			t.Fatal(err)
		}
		want, err := fresh.Handle(ctx, dry, env)
		fresh.Close()
		if err != nil || !bytes.Equal(want.Output, r.Output) {
			t.Fatalf("read-only result differs from a fresh instance: %v\n%s\n%s", err, r.Output, want.Output)
		}
		next, err := p.Handle(ctx, evalMsg(t, msgs[1], "AFTER", 51, "return tostring(Dry)"), env)
		if err != nil || next.Failed() || outputData(t, next) != "nil" {
			t.Fatalf("state leaked from a read-only message: %v %+v", err, next)
		}
	}
}

func TestOutputSignalsOOM(t *testing.T) {
	for in, want := range map[string]bool{
		`"x: not enough memory for buffer allocation"`:                  true,
		`{"data":{"output":"not enough memory for buffer allocation"}}`: true,
		`{"data":"not enough memory for buffer allocation"}`:            false,
		`"not enough memory for buffer allocation, said nobody"`:        false,
		`42`: false,
	} {
		if got := outputSignalsOOM([]byte(in)); got != want {
			t.Errorf("%s: %v", in, got)
		}
	}
}
