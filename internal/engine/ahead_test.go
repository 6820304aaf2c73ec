package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
)

// With Checkpoints.Ahead a process parked with a new state gets its file
// checkpoint in the background (the image's memory, the file's sha256
// recorded, and the memory's once the CU is idle);
// CheckpointAll then writes only what moved since: here the live process.
// A process parked again without a change is not written again.
func TestParkedProcessCheckpointedAhead(t *testing.T) {
	cu := newCheckpointCU(t, func(o *Options) { o.InstanceCacheMaxSize, o.Checkpoints.Ahead = 1, true })
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.sendAll(a, "a1", "a2")
	cu.sendAll(b, "b1") // parks A in the memory cache
	cp := cu.opts.Checkpoints.Store
	var rec *ao.FileCheckpoint
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		if rec, err = cp.FindFileCheckpoint(ctxT(t), a); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no background checkpoint of parked A: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cu.e.mu.Lock()
	pa := cu.e.procs[a]
	cu.e.mu.Unlock()
	if err := pa.acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	mem, err := memimage.DecodeWith(pa.img, pa.imgBase, 0)
	pos := pa.imgPos
	pa.release()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(cu.opts.Checkpoints.FileDir, rec.File))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(file); rec.Evaluation.FileSHA256 != hex.EncodeToString(sum[:]) || rec.Evaluation.Nonce != pos.Nonce {
		t.Fatalf("A's checkpoint records nonce %d, file sha %s; its image is at nonce %d, the file's sha %x", rec.Evaluation.Nonce, rec.Evaluation.FileSHA256, pos.Nonce, sum)
	}
	if got, err := cu.e.parseCheckpointFile(cu.opts.Checkpoints.FileDir, file); err != nil || !bytes.Equal(got.Bytes(), mem) {
		t.Fatalf("A's checkpoint file is not its image's memory (%v)", err)
	}
	// The memory's sha256 is added once the CU is idle.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if rec, err = cp.FindFileCheckpoint(ctxT(t), a); err != nil {
			t.Fatal(err)
		}
		if rec.Evaluation.SHA256 != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the memory's sha256 was not added to A's idle checkpoint")
		}
	}
	if sum := sha256.Sum256(mem); rec.Evaluation.SHA256 != hex.EncodeToString(sum[:]) || rec.Evaluation.FileSHA256 != hex.EncodeToString(sha256Of(file)) {
		t.Fatalf("A's checkpoint records memory sha %s, file sha %s; want %x", rec.Evaluation.SHA256, rec.Evaluation.FileSHA256, sum)
	}
	if _, err := cp.FindFileCheckpoint(ctxT(t), b); err == nil {
		t.Fatal("live B was checkpointed in the background")
	}
	if pa.aheadOfCheckpoint.Load() {
		t.Fatal("A still marked ahead of its checkpoint")
	}
	before := len(names(t, cu.opts.Checkpoints.FileDir))
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if after := len(names(t, cu.opts.Checkpoints.FileDir)); after != before+1 {
		t.Fatalf("CheckpointAll wrote %d files, want 1 (B's)", after-before)
	}
	// A dry-run (no change) and parking again: nothing to write.
	body := []byte(`{"Owner":"someone","Target":"` + a + `","Data":"q","Tags":[{"name":"Action","value":"Count"}]}`)
	if _, _, err := cu.e.DryRun(ctxT(t), DryRunRequest{ProcessID: a, Body: body}, 0); err != nil {
		t.Fatal(err)
	}
	cu.sendAll(b, "b2")
	if pa.aheadOfCheckpoint.Load() {
		t.Fatal("A marked ahead of its checkpoint without a change")
	}
}

// CheckpointAll stopped by its deadline reports only the processes that had
// something to write.
func TestCheckpointAllCountsOnlyWhatItLeft(t *testing.T) {
	cu := newCheckpointCU(t, nil)
	mod := cu.w.PublishModule(nil)
	a, b := cu.w.Spawn(mod, "A"), cu.w.Spawn(mod, "B")
	cu.sendAll(a, "a1")
	cu.sendAll(b, "b1")
	if err := cu.e.CheckpointAll(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cu.sendAll(a, "a2") // A moves on, B does not
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	err := cu.e.CheckpointAll(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 processes not checkpointed") {
		t.Fatalf("CheckpointAll with an ended context after A moved on = %v, want 1 left", err)
	}
}

func sha256Of(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// The memories' sha256 waits for an idle CU: not while a request is
// pending, nor within memoryHashIdle of the last one.
func TestMemoryHashesWaitForIdle(t *testing.T) {
	cu := newCheckpointCU(t, nil)
	e := cu.e
	e.lastCall.Store(time.Now().Add(-2 * memoryHashIdle).UnixNano())
	if !e.idle() {
		t.Fatal("not idle with no request for twice memoryHashIdle")
	}
	e.lastCall.Store(time.Now().UnixNano())
	if e.idle() {
		t.Fatal("idle right after a request began")
	}
	e.lastCall.Store(time.Now().Add(-2 * memoryHashIdle).UnixNano())
	e.mu.Lock()
	e.calls["pending"] = &call{done: make(chan struct{})}
	e.mu.Unlock()
	idle := e.idle()
	e.mu.Lock()
	delete(e.calls, "pending")
	e.mu.Unlock()
	if idle {
		t.Fatal("idle while a request is pending")
	}
}
