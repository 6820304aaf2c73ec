//go:build linux

package loader

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
)

// A scratch fork loaded with one idle process's image after another answers
// each dry-run as an instance restored from that image does, byte for byte,
// whatever earlier images and dry-runs left in it; before its dry-run its
// memory is the restored instance's memory (same size, same bytes). A larger
// fork is not reused for a smaller image, nor a fork of another gas limit.
// The same holds for the images held as deltas against a base image (the
// engine's idle processes): restored or loaded, they are the plain images.
func TestScratchForkEqualsRestoredInstance(t *testing.T) {
	pr, cm, images := probeImages(t)
	aoEnv := pr.env
	ctx := context.Background()
	msg := func(action, data string) *ao.Message {
		m := pr.msg(action, data)
		m.ReadOnly = true
		return m
	}
	base, deltas := deltasOf(t, images)

	// What an instance restored from each image answers and holds.
	dry := []*ao.Message{msg("Get", "a"), msg("Get", "b"),
		msg("Eval", `X = {}; for i = 1, 5000 do X[i] = string.rep('y', 200) end; return #X .. '/' .. tostring(Count)`)}
	type ref struct {
		mem     []byte
		answers []string
	}
	answer := func(r *ao.Result, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		return string(r.Output) + "|" + string(r.Messages) + "|" + string(r.Error)
	}
	refs := make([]ref, len(images))
	for i, img := range images {
		ri, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: img})
		if err != nil {
			t.Fatal(err)
		}
		refs[i].mem = bytes.Clone(ri.(*runtimeInstance).p.inst.data())
		for _, m := range dry {
			refs[i].answers = append(refs[i].answers, answer(ri.DryRun(ctx, m, aoEnv, 10*time.Second)))
		}
		ri.Close()
		di, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: deltas[i], Base: base})
		if err != nil {
			t.Fatal(err)
		}
		if got := di.(*runtimeInstance).p.inst.data(); !bytes.Equal(got, refs[i].mem) {
			t.Fatalf("image %d: the instance restored from its delta holds other bytes than from the plain image", i)
		}
		if got := answer(di.DryRun(ctx, dry[0], aoEnv, 10*time.Second)); got != refs[i].answers[0] {
			t.Fatalf("image %d: restored from its delta %q, from the plain image %q", i, got, refs[i].answers[0])
		}
		di.Close()
	}
	if !strings.Contains(refs[0].answers[0], "one/1") || !strings.Contains(refs[2].answers[0], "three/3") {
		t.Fatalf("restored instances answered %q, %q", refs[0].answers[0], refs[2].answers[0])
	}

	var f ao.Fork
	var err error
	for step, k := range []int{0, 1, 0, 2, 2, 1, 0} {
		opts := ao.InstanceOptions{Memory: images[k]}
		if step%2 == 1 {
			opts = ao.InstanceOptions{Memory: deltas[k], Base: base}
		}
		f, err = cm.ForkImage(ctx, opts, f)
		if err != nil {
			t.Fatal(err)
		}
		sf := f.(*fork)
		if got := sf.inst.data(); !bytes.Equal(got, refs[k].mem) {
			t.Fatalf("step %d: the scratch fork holds %d bytes (equal: false), the restored instance %d", step, len(got), len(refs[k].mem))
		}
		m := dry[step%len(dry)]
		if got := answer(f.DryRun(ctx, m, aoEnv, 10*time.Second)); got != refs[k].answers[step%len(dry)] {
			t.Fatalf("step %d (image %d): scratch fork %q, restored instance %q", step, k, got, refs[k].answers[step%len(dry)])
		}
	}
	// Another gas limit: another fork.
	g, err := cm.ForkImage(ctx, ao.InstanceOptions{Memory: images[0], GasLimit: 1e12}, f)
	if err != nil {
		t.Fatal(err)
	}
	if g == f || f.(*fork).inst != nil {
		t.Fatal("a fork of another gas limit was reused (or not closed)")
	}
	if got := answer(g.DryRun(ctx, dry[0], aoEnv, 10*time.Second)); got != refs[0].answers[0] {
		t.Fatalf("new fork: %q, want %q", got, refs[0].answers[0])
	}
	g.Close()
	if _, err := cm.ForkImage(ctx, ao.InstanceOptions{Memory: []byte("AOCUMEM2 garbage")}, nil); err == nil {
		t.Fatal("a malformed image loaded")
	}
	if _, err := cm.ForkImage(ctx, ao.InstanceOptions{Memory: deltas[1]}, nil); err == nil || !strings.Contains(err.Error(), "base") {
		t.Fatalf("a delta without its base loaded into a scratch fork: %v", err)
	}
	if _, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: deltas[1]}); err == nil || !strings.Contains(err.Error(), "base") {
		t.Fatalf("a delta without its base restored: %v", err)
	}
}

// probeImages returns the compact images of a probe process at three
// states (a Get handler answering State[Data]/Count; Count 1, 2, 3; the
// second with 2 MB more of Lua heap), and a compiledModule of its module.
func probeImages(t *testing.T) (*probeRuntime, *compiledModule, [][]byte) {
	t.Helper()
	pr := newProbeRuntime(t)
	ctx := context.Background()
	handle := func(code string) {
		t.Helper()
		if r, err := pr.inst.Handle(ctx, 1, pr.msg("Eval", code), pr.env, 0); err != nil || r.Failed() {
			t.Fatalf("%v %+v", err, r)
		}
	}
	handle(`Handlers.add('get', 'Get', function(m) m.reply({Data = tostring(State[m.Data]) .. '/' .. tostring(Count)}) end)`)
	var images [][]byte
	snap := func() {
		t.Helper()
		img, err := pr.inst.p.CompactImage()
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, img)
	}
	handle(`State = {a = 'one'}; Count = 1`)
	snap()
	handle(`State.b = 'two'; Count = 2; Big = {}; for i = 1, 20000 do Big[i] = string.rep('x', 100) .. i end`)
	snap()
	handle(`Big = nil; collectgarbage(); State.a = 'three'; Count = 3`)
	snap()
	return pr, &compiledModule{r: &Runtime{}, mod: pr.p.mod}, images
}

// deltasOf returns the deltas of images against a base made of the first.
func deltasOf(t *testing.T, images [][]byte) (*memimage.Base, [][]byte) {
	t.Helper()
	first, err := memimage.Parse(images[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	base := memimage.NewBase(first)
	deltas := make([][]byte, len(images))
	for k, img := range images {
		im, err := memimage.Parse(img, 0)
		if err == nil {
			deltas[k], err = memimage.EncodeDelta(im, base)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return base, deltas
}

// A process restored on a recycled instance (a parked process's, or a
// scratch fork) holds what a process restored on a new instance holds, and
// answers the same messages with the same results and memory, whatever the
// instance held and did before. A recycled instance whose memory is larger
// than the image needs, or of another gas limit, is closed and a new one
// made.
func TestRestoreOnRecycledInstance(t *testing.T) {
	pr, cm, images := probeImages(t)
	ctx := context.Background()
	// Messages that change the state, then read it.
	msgs := []*ao.Message{pr.msg("Eval", `State.c = (State.c or 0) + 1; X = {}; for i = 1, 3000 do X[i] = string.rep('q', 300) .. i end`),
		pr.msg("Get", "c"), pr.msg("Get", "a")}
	type run struct {
		mem0    []byte // right after the restore
		answers []string
		sha     [32]byte // after the messages
	}
	evaluate := func(i ao.Instance) run {
		t.Helper()
		p := i.(*runtimeInstance).p
		r := run{mem0: bytes.Clone(p.inst.data())}
		for _, m := range msgs {
			res, err := i.Handle(ctx, 7, m, pr.env, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			r.answers = append(r.answers, string(res.Output)+"|"+string(res.Messages)+"|"+string(res.Error))
		}
		r.sha = memimage.FromMemory(p.Memory()).SHA256()
		return r
	}
	same := func(what string, got, want run) {
		t.Helper()
		if !bytes.Equal(got.mem0, want.mem0) {
			t.Fatalf("%s: restored memory of %d bytes differs from a new instance's (%d bytes)", what, len(got.mem0), len(want.mem0))
		}
		if strings.Join(got.answers, "\n") != strings.Join(want.answers, "\n") || got.sha != want.sha {
			t.Fatalf("%s: answers %q (memory %x), on a new instance %q (memory %x)", what, got.answers, got.sha[:6], want.answers, want.sha[:6])
		}
	}
	refs := make([]run, len(images))
	for k, img := range images {
		i, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: img})
		if err != nil {
			t.Fatal(err)
		}
		refs[k] = evaluate(i)
		i.Close()
	}
	if !strings.Contains(refs[0].answers[1], "1/1") || !strings.Contains(refs[2].answers[2], "three/3") {
		t.Fatalf("answers %q, %q", refs[0].answers, refs[2].answers)
	}

	// The same from deltas (against image 0, kept as deltas by the process).
	base, deltas := deltasOf(t, images)
	for k := range images {
		i, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: deltas[k], Base: base})
		if err != nil {
			t.Fatal(err)
		}
		if i.(*runtimeInstance).p.base.ext.delta == nil {
			t.Fatalf("image %d: a process restored from a delta keeps the merged image", k)
		}
		same(fmt.Sprintf("image %d from its delta", k), evaluate(i), refs[k])
		i.Close()
	}

	prev, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: images[1]})
	if err != nil {
		t.Fatal(err)
	}
	evaluate(prev)
	for step, k := range []int{0, 2, 1, 1, 0, 2} {
		f := prev.(ao.Recycler).Recycle()
		if f == nil {
			t.Fatalf("step %d: the instance of a process restored from an image was not recycled", step)
		}
		if step == 3 { // (a dry-run on the recycled instance first, as the engine's scratch forks do)
			if f, err = cm.ForkImage(ctx, ao.InstanceOptions{Memory: images[2]}, f); err != nil {
				t.Fatal(err)
			}
			if _, err := f.DryRun(ctx, pr.msg("Get", "b"), pr.env, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		h := f.(*fork).inst
		opts := ao.InstanceOptions{Memory: images[k], Reuse: f}
		if step%2 == 1 {
			opts.Memory, opts.Base = deltas[k], base
		}
		next, err := cm.Instantiate(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if next.(*runtimeInstance).p.inst != h {
			t.Fatalf("step %d: a new instance was made, the recycled one not used", step)
		}
		same(fmt.Sprintf("step %d (image %d)", step, k), evaluate(next), refs[k])
		prev = next
	}

	// A recycled instance larger than the image needs is not used.
	if r, err := prev.Handle(ctx, 7, pr.msg("Eval", `Huge = string.rep('z', 160 * 1024 * 1024); return #Huge`), pr.env, 30*time.Second); err != nil || r.Failed() {
		t.Fatalf("%v %+v", err, r)
	}
	f := prev.(ao.Recycler).Recycle()
	if f == nil {
		t.Fatal("a grown process's instance was not recycled")
	}
	h := f.(*fork).inst
	next, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: images[0], Reuse: f})
	if err != nil {
		t.Fatal(err)
	}
	if next.(*runtimeInstance).p.inst == h || f.(*fork).inst != nil {
		t.Fatal("a recycled instance larger than the image needs was used (or not closed)")
	}
	same("after a larger recycled instance", evaluate(next), refs[0])
	// Another gas limit: not used.
	f = next.(ao.Recycler).Recycle()
	other, err := cm.Instantiate(ctx, ao.InstanceOptions{Memory: images[0], GasLimit: 1e12, Reuse: f})
	if err != nil {
		t.Fatal(err)
	}
	if f.(*fork).inst != nil {
		t.Fatal("a recycled instance of another gas limit was used (or not closed)")
	}
	other.Close()
	// A process that did not start from an image (a new process): not recycled.
	fresh, err := cm.Instantiate(ctx, ao.InstanceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := fresh.(ao.Recycler).Recycle(); f != nil {
		t.Fatal("a new process's instance (its memory not anonymous throughout) was recycled")
	}
	// A cancelled restore closes the instance it was given.
	f = cm.mustScratch(t, images[0])
	if _, err := cm.Instantiate(cancelled(), ao.InstanceOptions{Memory: images[0], Reuse: f}); err == nil || f.(*fork).inst != nil {
		t.Fatalf("a cancelled restore: %v; its recycled instance closed: %v", err, f.(*fork).inst == nil)
	}
}

func (c *compiledModule) mustScratch(t *testing.T, img []byte) ao.Fork {
	t.Helper()
	f, err := c.ForkImage(context.Background(), ao.InstanceOptions{Memory: img}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// restoredSize is the size growFor gives a fresh instance (the heap policy).
func TestRestoredSize(t *testing.T) {
	m := module(t, aos64)
	for _, extra := range []uint64{0, 1, 65536, 3 << 20, 17 << 20, 300 << 20} {
		inst, err := m.newInstance(nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		fresh := inst.memSize()
		want := fresh + extra
		if _, err := inst.growFor(want, false); err != nil {
			t.Fatal(err)
		}
		got := inst.memSize()
		inst.close()
		if size, ok := restoredSize(fresh, want, m.spec.heapMax, m.maxBytes); !ok || size != got {
			t.Errorf("image of fresh+%d bytes: restoredSize %d %v, a restore grows to %d", extra, size, ok, got)
		}
	}
	if _, ok := restoredSize(16<<20, 200<<20, 100<<20, 0); ok {
		t.Error("an image above heapMax fits")
	}
}
