package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/store/memstore"
)

// testCU is an engine on the test world: in-memory SU, gateway, runtime and
// store, temporary directories.
type testCU struct {
	t     *testing.T
	w     *aotest.World
	e     *Engine
	store ao.Store
	opts  Options
}

// newTestCU starts an engine on w (a new world with the default script if
// nil); tune adjusts the options before New.
func newTestCU(t *testing.T, w *aotest.World, tune func(*Options)) *testCU {
	t.Helper()
	if w == nil {
		w = aotest.NewWorld(nil)
	}
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	opts := Options{
		Store: store, Scheduler: w.Scheduler, Gateway: w.Gateway, Runtime: w.Runtime,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		MemoryCacheFileDir: t.TempDir(), WasmBinaryDir: t.TempDir(),
		Now:         w.Clock.Time,
		Checkpoints: CheckpointOptions{Store: store},
	}
	if testing.Verbose() {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if tune != nil {
		tune(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &testCU{t: t, w: w, e: e, store: opts.Store, opts: opts}
}

// restart closes the engine and starts a new one on the same store, world
// and directories (a process restart).
func (cu *testCU) restart() {
	cu.t.Helper()
	cu.e.Close()
	e, err := New(cu.opts)
	if err != nil {
		cu.t.Fatal(err)
	}
	cu.t.Cleanup(func() { e.Close() })
	cu.e = e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// result reads /result of mid and decodes it.
func (cu *testCU) result(pid, mid string) output {
	cu.t.Helper()
	raw, err := cu.e.ReadResult(ctxT(cu.t), pid, mid, 0)
	if err != nil {
		cu.t.Fatalf("ReadResult(%s): %v", mid, err)
	}
	return decodeOutput(cu.t, raw)
}

type output struct {
	Output   struct{ Data string } `json:"-"`
	RawOut   json.RawMessage       `json:"Output"`
	Messages []map[string]string
	Error    string
	GasUsed  *float64
	raw      string
}

func decodeOutput(t *testing.T, raw []byte) output {
	t.Helper()
	var o output
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	o.raw = string(raw)
	if len(o.RawOut) > 0 && o.RawOut[0] == '{' {
		if err := json.Unmarshal(o.RawOut, &o.Output); err != nil {
			t.Fatalf("Output %s: %v", o.RawOut, err)
		}
	}
	return o
}
