package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/ao/aotest"
	"github.com/aocu/aocu/internal/memimage"
)

// heapPages is the size of heapScript's shared heap, in pages.
const heapPages = 24

// heapScript is aotest.Script over a memory that begins with a heap every
// process of the module holds alike (as an aos process's Lua heap after
// boot), followed by the script's log. Action Poke (Data: a page number)
// changes one page of the heap.
func heapScript(ctx context.Context, mem []byte, msg *ao.Message, env *ao.Env) ([]byte, *ao.Result, error) {
	heapLen := heapPages * memimage.PageSize
	if len(mem) < heapLen {
		mem = make([]byte, heapLen)
		for i := range mem {
			mem[i] = byte(i*7%251) | 0x80 // no '\n': the script counts lines in its log
		}
	}
	heap := bytes.Clone(mem[:heapLen])
	if action, _ := ao.TagValue(msg.Tags, "Action"); action == "Poke" {
		page, _ := strconv.Atoi(string(bytes.Trim(msg.Data, `"`)))
		heap[page*memimage.PageSize] ^= 0x40
	}
	log, res, err := aotest.Script(ctx, mem[heapLen:], msg, env)
	if err != nil {
		return nil, nil, err
	}
	return append(heap, log...), res, nil
}

// procOf returns the engine's proc of pid.
func (cu *testCU) procOf(pid string) *proc {
	cu.e.mu.Lock()
	defer cu.e.mu.Unlock()
	return cu.e.procs[pid]
}

// idleMemory returns idle pid's memory from its image (memory cache or
// drained file), the image's bytes and its base (nil: not a delta).
func (cu *testCU) idleMemory(pid string) (mem, img []byte, base *memimage.Base) {
	t := cu.t
	t.Helper()
	p := cu.procOf(pid)
	if err := p.acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	defer p.release()
	img, base, _, ok := cu.e.peekIdleImage(p)
	if !ok || p.inst != nil {
		t.Fatalf("%s is not idle with an image", pid)
	}
	mem, err := memimage.DecodeWith(img, base, 0)
	if err != nil {
		t.Fatalf("%s's image: %v", pid, err)
	}
	return mem, img, base
}

// The idle processes of one module are held as deltas against the module's
// base image (the first image parked), counted at the delta's size, smaller
// than their plain image, in the memory cache and in drained files; they
// come back byte for byte (memory, dry-runs on the image, messages) after
// the base process changed its memory and after it was dropped.
func TestIdleProcessesHeldAsDeltasOfTheirModule(t *testing.T) {
	cu := newTestCU(t, aotest.NewWorld(heapScript), func(o *Options) { o.InstanceCacheMaxSize = 1 })
	mod := cu.w.PublishModule(nil)
	a, b, c := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B"), cu.w.Spawn(mod, "C")
	cu.sendAll(a, "a1", "a2")
	cu.sendAll(b, "b1") // parks A: its image is the module's base
	cu.sendAll(c, "c1") // parks B
	memA, imgA, baseA := cu.idleMemory(a)
	memB, imgB, baseB := cu.idleMemory(b)
	if baseA == nil || baseB != baseA || !memimage.IsDelta(imgA) || !memimage.IsDelta(imgB) {
		t.Fatalf("A and B held as deltas against one base: A %v, B %v", baseA != nil, baseB == baseA)
	}
	if !bytes.Equal(baseA.Image().Bytes(), memA) {
		t.Fatal("the module's base image is not the first image parked (A's)")
	}
	plainB, err := memimage.Encode(memB)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgB) >= len(plainB)/2 {
		t.Fatalf("B's delta is %d bytes, its plain image %d: want much smaller", len(imgB), len(plainB))
	}
	if st := cu.e.Stats(); st.Cached != 2 || st.CachedSize != int64(len(imgA)+len(imgB)) || st.BaseImages != 1 {
		t.Fatalf("stats %+v: want A and B cached at their deltas' size (%d), one base image", st, len(imgA)+len(imgB))
	}
	count := func(pid string) string {
		t.Helper()
		body := []byte(`{"Owner":"someone","Target":"` + pid + `","Data":"q","Tags":[{"name":"Action","value":"Count"}]}`)
		out, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: pid, Body: body}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return decodeOutput(t, out).Output.Data
	}
	forks := cu.w.Runtime.Counts().ImageForks
	if got := count(b); got != "2" || cu.w.Runtime.Counts().ImageForks != forks+1 {
		t.Fatalf("dry-run on B's delta = %q (image forks %d → %d), want 2 from an image fork", got, forks, cu.w.Runtime.Counts().ImageForks)
	}

	// The base process changes its heap and is parked again: B's delta is
	// still decoded against the base it was made with.
	cu.sendAll(a, "a3")
	cu.result(a, cu.w.Send(a, "3", aotest.Action("Poke")))
	diffs := cu.w.Runtime.Counts().MemoryDiffs
	cu.sendAll(c, "c2") // parks A
	memA2, _, baseA2 := cu.idleMemory(a)
	if bytes.Equal(memA2[:heapPages*memimage.PageSize], memA[:heapPages*memimage.PageSize]) || baseA2 != baseA {
		t.Fatal("A's heap did not change, or A's new image is not a delta against the same base")
	}
	if n := cu.w.Runtime.Counts().MemoryDiffs - diffs; n != 1 {
		t.Fatalf("parking A compared its memory with its base %d times, want once, without a page image", n)
	}
	// B goes to file: the file is its delta.
	pb := cu.procOf(b)
	if err := pb.acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	err = cu.e.spill(pb)
	pb.release()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(cu.opts.MemoryCacheFileDir, drainedFileName(b)))
	if err != nil || !bytes.Equal(file, imgB) || pb.drainBase != baseA {
		t.Fatalf("B's drained file: %v; want its delta, with its base kept", err)
	}
	// The base process is dropped: B keeps its base alive.
	cu.e.mu.Lock()
	delete(cu.e.procs, a)
	cu.e.mu.Unlock()
	runtime.GC()
	runtime.GC()
	if st := cu.e.Stats(); st.BaseImages != 1 {
		t.Fatalf("%d base images once A is gone, want B's", st.BaseImages)
	}
	if got := count(b); got != "2" {
		t.Fatalf("dry-run on B from its drained delta = %q, want 2", got)
	}
	if err := pb.acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	meta, err := cu.e.loadMeta(ctxT(t), pb)
	if err == nil {
		err = cu.e.ensureInstance(ctxT(t), pb, meta)
	}
	same := err == nil && bytes.Equal(pb.inst.Memory(), memB)
	pb.release()
	if err != nil || !same {
		t.Fatalf("B restored from its drained delta: %v; the memory parked: %v", err, same)
	}
	if got := cu.result(b, cu.w.Send(b, "b2")).Output.Data; got != "3:b2" {
		t.Fatalf("B after its delta = %q, want 3:b2", got)
	}
}

// A file checkpoint written from a delta (cached or drained) is the delta
// itself, recorded with its file's sha256, with its base image's file beside
// it (a plain compact image named by the base's id): a restart (no base
// images in memory) resumes from it. The start keeps a base file a
// checkpoint needs and removes the others; without its base file a
// checkpoint is refused and the process starts from scratch, answering the
// same.
func TestFileCheckpointOfADeltaWithItsBase(t *testing.T) {
	for _, drained := range []bool{false, true} {
		t.Run("drained="+strconv.FormatBool(drained), func(t *testing.T) {
			cu := newTestCU(t, aotest.NewWorld(heapScript), func(o *Options) {
				o.Checkpoints.FileDir = filepath.Join(t.TempDir(), "checkpoints")
				o.InstanceCacheMaxSize = 1
				if drained {
					o.MemoryCacheMaxSize = 1 // no room for idle images: drained to files
				}
			})
			cu.opts.Checkpoints.Store = cu.store.(ao.CheckpointStore)
			cu.restart()
			dir := cu.opts.Checkpoints.FileDir
			mod := cu.w.PublishModule(nil)
			a, b, c := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B"), cu.w.Spawn(mod, "C")
			cu.sendAll(a, "a1")
			cu.sendAll(b, "b1", "b2") // parks (drains) A: the base
			cu.sendAll(c, "c1")       // parks (drains) B
			mem, img, base := cu.idleMemory(b)
			if base == nil || !memimage.IsDelta(img) {
				t.Fatal("B is not held as a delta")
			}
			if drained != (cu.e.Stats().OnFile == 2) {
				t.Fatalf("stats %+v", cu.e.Stats())
			}
			cu.checkpointWithoutInstanceThenRestart(b, mem, "delta") // resumes from it: one message evaluated
			rec := cu.fileRecord(b)
			file, err := os.ReadFile(filepath.Join(dir, rec.File))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(file)
			if !memimage.IsDelta(file) || rec.Evaluation.FileSHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("B's checkpoint file: delta %v, recorded sha %s", memimage.IsDelta(file), rec.Evaluation.FileSHA256)
			}
			id, err := memimage.DeltaBaseID(file)
			if err != nil {
				t.Fatal(err)
			}
			baseFile := filepath.Join(dir, baseFileName(id))
			raw, err := os.ReadFile(baseFile) // kept by the restart's sweep
			if err != nil {
				t.Fatalf("the base image's file: %v", err)
			}
			if im, err := memimage.Parse(raw, 0); err != nil || !memimage.IsCompact(raw) || memimage.NewBase(im).ID() != id {
				t.Fatalf("the base image's file is not the plain image of base %x (%v)", id[:8], err)
			}

			// A base file no checkpoint needs, and a temporary one, go at the next start.
			stray := filepath.Join(dir, "base-"+strings.Repeat("ab", 32)+".dat")
			tmp := filepath.Join(dir, ".base-"+strings.Repeat("cd", 32)+".dat.tmp-123")
			for _, f := range []string{stray, tmp} {
				if err := os.WriteFile(f, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cu.restart()
			for _, f := range []string{stray, tmp} {
				if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s left by the start: %v", filepath.Base(f), err)
				}
			}
			if _, err := os.Stat(baseFile); err != nil {
				t.Fatalf("the base a checkpoint needs was removed: %v", err)
			}
			// The same while the CU runs (every baseSweepEvery).
			if err := os.WriteFile(stray, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			cu.e.sweepBaseFiles()
			if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a base file no checkpoint needs left by the sweep: %v", err)
			}
			if _, err := os.Stat(baseFile); err != nil {
				t.Fatalf("the base a checkpoint needs was removed by the sweep: %v", err)
			}

			// Without its base file, the checkpoint is refused: B starts from scratch.
			if err := os.Remove(baseFile); err != nil {
				t.Fatal(err)
			}
			if n := cu.restartAndSend(b, "b4", "5:b4"); n != 5 {
				t.Fatalf("B without its base image evaluated %d messages, want 5 (from the start)", n)
			}
		})
	}
}

// The base images count in the memory cache's bound: with room for the live
// instance and the idle deltas but not for their base, the least recently
// used idle process goes to file.
func TestBaseImagesCountInTheMemoryCache(t *testing.T) {
	cu := newTestCU(t, aotest.NewWorld(heapScript), func(o *Options) { o.InstanceCacheMaxSize = 1 })
	mod := cu.w.PublishModule(nil)
	a, b, c := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B"), cu.w.Spawn(mod, "C")
	cu.sendAll(a, "a1")
	cu.sendAll(b, "b1") // parks A: its image is the module's base
	cu.sendAll(c, "c1") // parks B, a delta
	st := cu.e.Stats()
	if st.InMemory != 1 || st.Cached != 2 || st.OnFile != 0 || st.BaseImages != 1 || st.BaseSize <= 0 {
		t.Fatalf("stats %+v: want C live, A and B cached, one base", st)
	}
	cu.e.opts.MemoryCacheMaxSize = st.MemorySize + st.CachedSize + st.BaseSize - 1
	cu.sendAll(c, "c2")
	if st := cu.e.Stats(); st.Cached != 1 || st.OnFile != 1 || cu.procOf(a).drainedTo.Load() == nil {
		t.Fatalf("stats %+v: want A (the least recently used) on file, its base counted", st)
	}
	if got := cu.result(a, cu.w.Send(a, "a2")).Output.Data; got != "3:a2" {
		t.Fatalf("A from file = %q, want 3:a2", got)
	}
}

// An image is encoded against the base it differs least from; one unlike
// every base becomes a base, up to maxBasesPerModule. Bases are held
// weakly: once no image needs them, they are freed and the next image
// parked becomes a base.
func TestBaseImagesOfAModule(t *testing.T) {
	b := baseImages{m: map[string][]weak.Pointer[memimage.Base]{}}
	const pages = 8
	image := func(fill byte, changed int) *memimage.Image {
		mem := bytes.Repeat([]byte{fill}, pages*memimage.PageSize)
		for i := range changed {
			mem[i*memimage.PageSize] ^= 0xff
		}
		return memimage.FromMemory(mem)
	}
	first := image(1, 0)
	base, _ := b.forModule("m", first, nil)
	if base == nil || base.Image() != first {
		t.Fatal("the first image is not the module's base")
	}
	if got, _ := b.forModule("m", image(1, 2), nil); got != base {
		t.Fatal("an image close to the base (2 pages of 8 differ) got another base")
	}
	var held []*memimage.Base
	for fill := byte(2); fill < 1+maxBasesPerModule; fill++ {
		im := image(fill, 0)
		if got, _ := b.forModule("m", im, nil); got == nil || got.Image() != im {
			t.Fatalf("an image unlike the %d bases did not become one", len(held)+1)
		}
		got, _ := b.forModule("m", im, nil)
		held = append(held, got)
	}
	if got, _ := b.forModule("m", image(99, 0), nil); got != nil {
		t.Fatal("an image unlike every base got one beyond the bound: want none (a plain image)")
	}
	if n, _ := b.stats(); n != maxBasesPerModule {
		t.Fatalf("%d bases, want %d", n, maxBasesPerModule)
	}
	if got, _ := b.forModule("m", image(3, 1), nil); got != held[1] || held[1].Image().Bytes()[1] != 3 {
		t.Fatal("an image was not encoded against the base it differs least from")
	}
	// The base of the image a process came from is kept while the process
	// stays close to it (2 of 8 pages differ); once it is not, the closest
	// is taken.
	if got, _ := b.forModule("m", image(1, 2), base); got != base {
		t.Fatal("a process close to its old base was given another")
	}
	if got, _ := b.forModule("m", image(2, 1), base); got != held[0] {
		t.Fatal("a process no longer close to its old base was not given the closest")
	}
	if got, _ := b.forModule("other", image(1, 0), nil); got == base {
		t.Fatal("a base shared between modules")
	}
	runtime.KeepAlive(held)
	runtime.KeepAlive(base)
	base, held = nil, nil
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.GC()
		if n, _ := b.stats(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bases outlived every image")
		}
	}
	next := image(9, 0)
	if nb, _ := b.forModule("m", next, nil); nb.Image() != next {
		t.Fatal("the next image parked did not become a base")
	}
}
