package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
)

// With Checkpoints.Ahead a process parked with a new state gets its file
// checkpoint in the background (the image's memory, its sha256 recorded);
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
	mem, err := memimage.Decode(pa.img, 0)
	pos := pa.imgPos
	pa.release()
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(mem); rec.Evaluation.SHA256 != hex.EncodeToString(sum[:]) || rec.Evaluation.Nonce != pos.Nonce {
		t.Fatalf("A's checkpoint records nonce %d sha %s; its image is at nonce %d with sha %x", rec.Evaluation.Nonce, rec.Evaluation.SHA256, pos.Nonce, sum)
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
