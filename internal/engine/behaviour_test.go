package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
)

// A process evaluates its scheduled messages in order; a message's result is
// stored and read back without evaluating again.
func TestReadResultEvaluatesInOrder(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	mod := cu.w.PublishModule(nil)
	pid := cu.w.Spawn(mod, "boot")
	m1 := cu.w.Send(pid, "one", aotest.Action("Set"))
	m2 := cu.w.Send(pid, "two", aotest.Action("Set"))

	if got := cu.result(pid, m2).Output.Data; got != "3:two" {
		t.Fatalf("result of m2 = %q, want 3:two (process message, m1, m2)", got)
	}
	handled := cu.w.Runtime.Counts().Handled
	if got := cu.result(pid, m1).Output.Data; got != "2:one" {
		t.Fatalf("result of m1 = %q, want 2:one", got)
	}
	if cu.w.Runtime.Counts().Handled != handled {
		t.Fatal("a stored result was evaluated again")
	}
	// The process message itself (AOP-6).
	if got := cu.result(pid, pid).Output.Data; got != "1:boot" {
		t.Fatalf("result of the process = %q", got)
	}
}

// After an Error the next message sees the memory before the failing one.
func TestErrorKeepsPreviousState(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	bad := cu.w.Send(pid, "x", aotest.Action("Error"))
	trap := cu.w.Send(pid, "y", aotest.Action("Trap"))
	ok := cu.w.Send(pid, "z", aotest.Action("Set"))
	if r := cu.result(pid, bad); r.Error != "handler error: x" {
		t.Fatalf("error result %s", r.raw)
	}
	if r := cu.result(pid, trap); r.Error != "RuntimeError: unreachable" || r.GasUsed != nil {
		t.Fatalf("trap result %s (a rejection has no GasUsed)", r.raw)
	}
	if got := cu.result(pid, ok).Output.Data; got != "2:z" {
		t.Fatalf("after the failures = %q, want 2:z", got)
	}
}

// Every stream starts as on a fresh instance: the runtime sees one stream per
// request that evaluates.
func TestEachStreamIsFresh(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.result(pid, cu.w.Send(pid, "a"))
	cu.result(pid, cu.w.Send(pid, "b"))
	if got := cu.w.Runtime.Counts().Streams; got != 2 {
		t.Fatalf("streams = %d, want 2", got)
	}
}

// The module receives the reference's JSON of the SU's Data: parsed and
// stringified again.
func TestModuleReceivesRestringifiedData(t *testing.T) {
	var got *ao.Message
	w := aotest.NewWorld(func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		got = msg
		return aotest.Script(ctx, mem, msg, env)
	})
	cu := newTestCU(t, w, nil)
	pid := w.Spawn(w.PublishModule(nil), "")
	mid := w.Send(pid, "q > 0 && <b>\u2028")
	w.Scheduler.SetPageHook(func(_ string, p *ao.SUPage) {
		for i := range p.Edges {
			if m := p.Edges[i].Message; m != nil && m.ID == mid {
				m.Data = []byte(`"q \u003e 0 \u0026\u0026 \u003cb\u003e\u2028"`) // Go's escaping, as an SU may send it
			}
		}
	})
	cu.result(pid, mid)
	if string(got.Data) != "\"q > 0 && <b>\u2028\"" {
		t.Fatalf("module got Data %s", got.Data)
	}
}

// ReadResult answers ErrBusy after the busy threshold; the evaluation goes
// on and its result is stored.
func TestBusyThenStored(t *testing.T) {
	release := make(chan struct{})
	w := aotest.NewWorld(func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		if v, _ := ao.TagValue(msg.Tags, "Action"); v == "Wait" {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		return aotest.Script(ctx, mem, msg, env)
	})
	cu := newTestCU(t, w, nil)
	pid := w.Spawn(w.PublishModule(nil), "")
	mid := w.Send(pid, "slow", aotest.Action("Wait"))
	_, err := cu.e.ReadResult(ctxT(t), pid, mid, 20*time.Millisecond)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("ReadResult while evaluating = %v, want ErrBusy", err)
	}
	close(release)
	if got := cu.result(pid, mid).Output.Data; got != "2:slow" {
		t.Fatalf("after the wait = %q", got)
	}
}

// A request far ahead of a running stream is refused with 503
// (HYDRATION_MODE_NONCE_LIMIT).
func TestHydrationNonceLimit(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	w := aotest.NewWorld(func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		if v, _ := ao.TagValue(msg.Tags, "Action"); v == "Wait" {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		return aotest.Script(ctx, mem, msg, env)
	})
	cu := newTestCU(t, w, func(o *Options) { o.HydrationNonceLimit = 3 })
	pid := w.Spawn(w.PublishModule(nil), "")
	w.Send(pid, "a")
	slow := w.Send(pid, "b", aotest.Action("Wait"))
	var ids []string
	for i := range 6 {
		ids = append(ids, w.Send(pid, strings.Repeat("x", i)))
	}
	done := make(chan error, 1)
	go func() {
		_, err := cu.e.ReadResult(context.WithoutCancel(ctxT(t)), pid, slow, 0)
		done <- err
	}()
	<-started
	_, err := cu.e.ReadResult(ctxT(t), pid, ids[5], 0) // nonce 8, running at 2
	if ao.StatusOf(err) != 503 || !strings.Contains(err.Error(), "Nonce limit exceeded") {
		t.Fatalf("far ahead = %v, want 503 Nonce limit exceeded", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := cu.result(pid, ids[5]).Output.Data; got != "9:xxxxx" {
		t.Fatalf("after the stream = %q", got)
	}
}

// With one warm instance, a second process drains the first to a file; the
// first is read back from it (not replayed) with its state intact.
func TestDrainAndReadBack(t *testing.T) {
	cu := newTestCU(t, nil, func(o *Options) { o.InstanceCacheMaxSize, o.MemoryCacheMaxSize = 1, 1 }) // no room for idle images: drained to files
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.result(a, cu.w.Send(a, "a1"))
	cu.result(b, cu.w.Send(b, "b1"))
	files, _ := filepath.Glob(filepath.Join(cu.opts.MemoryCacheFileDir, "state-"+a+"*"))
	if len(files) != 1 {
		t.Fatalf("drained files of A: %v", files)
	}
	st := cu.e.Stats()
	if st.InMemory != 1 || st.OnFile != 1 {
		t.Fatalf("stats %+v, want 1 in memory and 1 on file", st)
	}
	handled := cu.w.Runtime.Counts().Handled
	if got := cu.result(a, cu.w.Send(a, "a2")).Output.Data; got != "3:a2" {
		t.Fatalf("A after read-back = %q, want 3:a2", got)
	}
	if n := cu.w.Runtime.Counts().Handled - handled; n != 1 {
		t.Fatalf("read-back evaluated %d messages, want 1 (no replay)", n)
	}
}

// A restart resumes from the file checkpoint plus the stored results: no
// message before the checkpoint is evaluated again.
func TestRestartResumesFromFileCheckpoint(t *testing.T) {
	cu := newTestCU(t, nil, func(o *Options) {
		o.Checkpoints.FileDir = filepath.Join(o.MemoryCacheFileDir, "checkpoints")
	})
	cu.opts.Checkpoints.Store = cu.store.(ao.CheckpointStore)
	cu.restart()
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	var last string
	for i := range 5 {
		last = cu.w.Send(pid, strings.Repeat("m", i+1))
	}
	cu.result(pid, last)
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cu.restart()
	before := cu.w.Runtime.Counts().Handled
	next := cu.w.Send(pid, "after")
	if got := cu.result(pid, next).Output.Data; got != "7:after" {
		t.Fatalf("after restart = %q, want 7:after", got)
	}
	if n := cu.w.Runtime.Counts().Handled - before; n != 1 {
		t.Fatalf("restart evaluated %d messages, want 1", n)
	}
}

// An assignment is hydrated from the gateway; Exclude leaves parts out.
func TestAssignmentHydrationWithExclude(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]*ao.Message{}
	w := aotest.NewWorld(func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		mu.Lock()
		seen[string(msg.ID)] = msg
		mu.Unlock()
		return aotest.Script(ctx, mem, msg, env)
	})
	cu := newTestCU(t, w, nil)
	pid := w.Spawn(w.PublishModule(nil), "")
	full := w.Publish("other-target", "full data", aotest.Action("Set"))
	w.Assign(pid, full)
	partial := w.Publish("other-target", "hidden", aotest.Action("Set"))
	w.Assign(pid, partial, "Data")
	cu.result(pid, partial)
	f, p := seen[`"`+full+`"`], seen[`"`+partial+`"`]
	if f == nil || p == nil {
		t.Fatalf("assignments not evaluated: %v", seen)
	}
	if string(f.Data) != `"full data"` || string(f.Target) != `"other-target"` || string(f.Anchor) != `"anchor"` {
		t.Fatalf("hydrated %+v", f)
	}
	if p.Data != nil || len(p.Tags) == 0 {
		t.Fatalf("Exclude=Data: Data %s, tags %v", p.Data, p.Tags)
	}
}

// A pushed message scheduled twice is evaluated once (the deep-hash dedup),
// and the stream moves past the copy.
func TestPushedMessageDedup(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	from := aotest.NewID("sender")
	first := cu.w.Push(pid, from, "hello", "")
	// The same pushed content again, under another id (the MU retried).
	copyID := cu.w.Schedule(pid, aotest.Item{ID: aotest.NewID("copy"), Owner: aotest.MU, Target: pid,
		Tags: []ao.Tag{{Name: "Data-Protocol", Value: "ao"}, {Name: "Variant", Value: "ao.TN.1"}, {Name: "Type", Value: "Message"},
			{Name: "From-Process", Value: from}}, Data: []byte("hello")})
	after := cu.w.Send(pid, "after")
	if got := cu.result(pid, after).Output.Data; got != "3:after" {
		t.Fatalf("after the copy = %q, want 3:after (the copy skipped)", got)
	}
	if got := cu.result(pid, first).Output.Data; got != "2:hello" {
		t.Fatalf("first = %q", got)
	}
	_ = copyID
}

// Only allowed owners' processes are evaluated (ALLOW_OWNERS).
func TestAllowOwners(t *testing.T) {
	cu := newTestCU(t, nil, func(o *Options) { o.AllowOwners = []string{"someone-else"} })
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	_, err := cu.e.ReadResult(ctxT(t), pid, pid, 0)
	if ao.StatusOf(err) != 403 {
		t.Fatalf("ReadResult = %v, want 403", err)
	}
}

// A module binary that is not wasm is refused with 422 and never cached.
func TestModuleNotWasm(t *testing.T) {
	cu := newTestCU(t, nil, nil)
	mod := cu.w.PublishModule([]byte("<html>gateway error page</html>"))
	pid := cu.w.Spawn(mod, "")
	_, err := cu.e.ReadResult(ctxT(t), pid, pid, 0)
	if ao.StatusOf(err) != 422 || !strings.Contains(err.Error(), "not a WebAssembly binary") {
		t.Fatalf("ReadResult = %v, want 422 not wasm", err)
	}
	if _, err := os.Stat(filepath.Join(cu.opts.WasmBinaryDir, mod+".wasm")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bad binary was cached: %v", err)
	}
}

// A binary planted in the cache directory under a module id is not used
// without a matching record; a cached binary whose bytes change is discarded
// and fetched again.
func TestPlantedAndPoisonedModuleBinaries(t *testing.T) {
	var served []string
	cu := newTestCU(t, nil, nil)
	mod := cu.w.PublishModule([]byte("\x00asm\x01\x00\x00\x00real"))
	cu.w.Gateway.SetFault(func(call, id string) error {
		if call == "Raw" && id == mod {
			served = append(served, id)
		}
		return nil
	})
	dir := filepath.Join(cu.opts.WasmBinaryDir, moduleBinaryDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, mod+".wasm")
	if err := os.WriteFile(file, []byte("\x00asm\x01\x00\x00\x00planted"), 0o600); err != nil {
		t.Fatal(err)
	}
	pid := cu.w.Spawn(mod, "")
	cu.result(pid, pid)
	if len(served) != 1 {
		t.Fatalf("the planted binary was used (gateway downloads: %d)", len(served))
	}
	got, err := os.ReadFile(file)
	if err != nil || string(got) != "\x00asm\x01\x00\x00\x00real" {
		t.Fatalf("cached binary %q %v", got, err)
	}
	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("binary directory mode %v %v", info.Mode(), err)
	}
	// The record now vouches for the file: a new engine uses it.
	cu.restart()
	cu.result(pid, cu.w.Send(pid, "x"))
	if len(served) != 1 {
		t.Fatalf("a vouched-for cached binary was downloaded again (%d)", len(served))
	}
	// Someone changes the file: it is discarded and fetched again.
	if err := os.WriteFile(file, []byte("\x00asm\x01\x00\x00\x00evil"), 0o600); err != nil {
		t.Fatal(err)
	}
	cu.restart()
	cu.result(pid, cu.w.Send(pid, "y"))
	if len(served) != 2 {
		t.Fatalf("downloads after tampering = %d, want 2", len(served))
	}
	if got, _ := os.ReadFile(file); string(got) != "\x00asm\x01\x00\x00\x00real" {
		t.Fatalf("cache after tampering %q", got)
	}
}

// A scheduled message that runs past the time limit marks its process failed
// at that message: nothing of it is stored, it and later messages answer a
// stable 422 naming the message and the limit, earlier results stay
// readable, and other processes are unaffected.
func TestRunawayMessageFailsItsProcessOnly(t *testing.T) {
	cu := newTestCU(t, nil, func(o *Options) { o.MessageTimeout = 50 * time.Millisecond; o.PrimaryWorkers = 1 })
	mod := cu.w.PublishModule(nil)
	bad, good := cu.w.Spawn(mod, ""), cu.w.Spawn(mod, "")
	before := cu.w.Send(bad, "fine")
	loop := cu.w.Send(bad, "spin", aotest.Action("Loop"))
	later := cu.w.Send(bad, "never")
	cu.result(bad, before)
	for _, mid := range []string{loop, later, loop} {
		_, err := cu.e.ReadResult(ctxT(t), bad, mid, 0)
		if ao.StatusOf(err) != 422 || !strings.Contains(err.Error(), "failed at message "+loop+" (nonce 2)") ||
			!strings.Contains(err.Error(), "50ms") {
			t.Fatalf("ReadResult(%s) = %v, want 422 naming %s and the limit", mid, err, loop)
		}
	}
	handled := cu.w.Runtime.Counts().Handled
	if _, err := cu.e.ReadState(ctxT(t), bad, nil, 0); ao.StatusOf(err) != 422 {
		t.Fatalf("ReadState of the failed process = %v", err)
	}
	if cu.w.Runtime.Counts().Handled != handled {
		t.Fatal("a failed process was evaluated again")
	}
	if got := cu.result(bad, before).Output.Data; got != "2:fine" {
		t.Fatalf("earlier result = %q", got)
	}
	start := time.Now()
	if got := cu.result(good, cu.w.Send(good, "ok")).Output.Data; got != "2:ok" {
		t.Fatalf("other process = %q", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("other process took %v", d)
	}
	rows, err := cu.store.Evaluations(ctxT(t), ao.RangeQuery{ProcessID: bad, After: bad + ",", Through: bad + ",\U0010FFFF", Limit: 100})
	if err != nil || len(rows) != 2 {
		t.Fatalf("stored evaluations of the failed process: %d %v, want 2 (the process message and the one before)", len(rows), err)
	}
	if st := cu.e.Stats(); st.Failed != 1 {
		t.Fatalf("stats %+v, want 1 failed", st)
	}
}

// A runaway dry-run is stopped at the dry-run limit with a 422, leaves the
// process as it was, and the next dry-run answers normally.
func TestRunawayDryRunIsStopped(t *testing.T) {
	cu := newTestCU(t, nil, func(o *Options) { o.DryRunTimeout = 50 * time.Millisecond })
	pid := cu.w.Spawn(cu.w.PublishModule(nil), "")
	cu.result(pid, cu.w.Send(pid, "one"))
	body := func(action string) []byte {
		return []byte(`{"Owner":"someone","Target":"` + pid + `","Data":"q","Tags":[{"name":"Action","value":"` + action + `"}]}`)
	}
	start := time.Now()
	_, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: pid, Body: body("Loop")}, 0)
	if ao.StatusOf(err) != 422 || !strings.Contains(err.Error(), "dry-run time limit of 50ms") {
		t.Fatalf("runaway dry-run = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the runaway dry-run took %v", d)
	}
	out, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: pid, Body: body("Count")}, 0)
	if err != nil || decodeOutput(t, out).Output.Data != "2" {
		t.Fatalf("next dry-run = %s %v", out, err)
	}
	if got := cu.result(pid, cu.w.Send(pid, "two")).Output.Data; got != "3:two" {
		t.Fatalf("after the dry-runs = %q", got)
	}
}

// Time and block crons fire between scheduled messages as the reference's
// cron schedule says, their results are stored and listed, each once, and
// their Cron-Tag-* tags reach the module.
func TestCronsWithBlocks(t *testing.T) {
	var mu sync.Mutex
	var cronTags []string
	w := aotest.NewWorld(func(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
		if msg.Cron {
			v, _ := ao.TagValue(msg.Tags, "Action")
			mu.Lock()
			cronTags = append(cronTags, v)
			mu.Unlock()
		}
		return aotest.Script(ctx, mem, msg, env)
	})
	cu := newTestCU(t, w, nil)
	start := w.Clock.Now()
	for h := int64(1); h <= 20; h++ { // a block every 30 s from height 1
		w.Gateway.AddBlock(ao.Block{Height: h, Timestamp: start + (h-1)*30_000})
	}
	pid := w.Spawn(w.PublishModule(nil), "",
		aotest.Tag("Cron-Interval", "1-minute"), aotest.Tag("Cron-Tag-Action", "Tick"),
		aotest.Tag("Cron-Interval", "4-blocks"), aotest.Tag("Cron-Tag-Action", "Block"))
	w.Clock.Advance(150 * time.Second)
	w.Scheduler.SetHeight(6)
	mid := w.Send(pid, "after crons")
	if got := cu.result(pid, mid).Output.Data; !strings.HasSuffix(got, ":after crons") {
		t.Fatalf("result = %q", got)
	}
	mu.Lock()
	got := strings.Join(cronTags, ",")
	mu.Unlock()
	// 2.5 minutes: time crons at +1 and +2 min; block crons at heights 4
	// (+90 s); in the reference's order.
	if !strings.Contains(got, "Tick") || !strings.Contains(got, "Block") || strings.Count(got, "Tick") != 2 || strings.Count(got, "Block") != 1 {
		t.Fatalf("crons evaluated: %s", got)
	}
	if err := cu.e.EvaluateCron(ctxT(t), pid, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := cu.e.Results(ctxT(t), ao.RangeQuery{ProcessID: pid, After: pid + ",", Through: pid + ",\U0010FFFF", OnlyCron: true, Limit: 100})
	if err != nil || len(rows) != 3 {
		t.Fatalf("cron results %d %v, want 3", len(rows), err)
	}
	// Asking again evaluates nothing new and stores no duplicate.
	handled := w.Runtime.Counts().Handled
	if err := cu.e.EvaluateCron(ctxT(t), pid, nil); err != nil {
		t.Fatal(err)
	}
	rows, _ = cu.e.Results(ctxT(t), ao.RangeQuery{ProcessID: pid, After: pid + ",", Through: pid + ",\U0010FFFF", OnlyCron: true, Limit: 100})
	if len(rows) != 3 || w.Runtime.Counts().Handled != handled {
		t.Fatalf("second /cron: %d rows, %d evaluations", len(rows), w.Runtime.Counts().Handled-handled)
	}
}

// ENABLE_MEMORY_RESET: Action: Reset-Memory from the process owner replaces
// the memory by a fresh instance's after the process message, and that
// evaluation is the message's result; from anyone else, or with the setting
// off, it is an ordinary message.
func TestResetMemory(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		cu := newTestCU(t, nil, func(o *Options) { o.EnableMemoryReset = enabled })
		pid := cu.w.Spawn(cu.w.PublishModule(nil), "boot")
		cu.w.Send(pid, "a")
		cu.w.Send(pid, "b")
		stranger := cu.w.Schedule(pid, aotest.Item{ID: aotest.NewID("stranger", enabled), Owner: ao.Owner{Address: aotest.NewID("x"), Key: "x"},
			Target: pid, Tags: []ao.Tag{aotest.Action("Reset-Memory")}, Data: []byte("s")})
		reset := cu.w.Send(pid, "r", aotest.Action("Reset-Memory"))
		after := cu.w.Send(pid, "c")
		if got := cu.result(pid, stranger).Output.Data; got != "4:s" {
			t.Fatalf("enabled=%v: a stranger's Reset-Memory = %q, want an ordinary 4:s", enabled, got)
		}
		want, wantAfter := "1:boot", "2:c"
		if !enabled {
			want, wantAfter = "5:r", "6:c"
		}
		if got := cu.result(pid, reset).Output.Data; got != want {
			t.Fatalf("enabled=%v: Reset-Memory = %q, want %q", enabled, got, want)
		}
		if got := cu.result(pid, after).Output.Data; got != wantAfter {
			t.Fatalf("enabled=%v: after the reset = %q, want %q", enabled, got, wantAfter)
		}
	}
}
