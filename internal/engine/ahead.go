package engine

import (
	"cmp"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/aocu/aocu/internal/ao"
)

// Checkpoints ahead of a shutdown. SIGTERM and SIGUSR2 write a file
// checkpoint of every process whose state moved since its last one. A file
// checkpoint records the sha256 of its file (the compact image, ~0.5 MB for
// an aos process: well under a millisecond), not yet that of the memory: the
// sha256 of an aos process's whole 110 MB linear memory costs 60 ms on a
// quiet core here, 150–350 ms on this shared VM (SHA-256 has no shortcut over
// the zeros), which put a thousand changed processes at minutes of CPU. The
// file's hash is what a restore checks; the memory's is added to the record
// later, one process at a time, only while the CU has had no request for
// memoryHashIdle (addMemoryHashes).
// With CheckpointOptions.Ahead, a process parked with a new state is
// checkpointed soon after, in the background, by one goroutine that leaves
// the CPU to requests at least half of the time (after each checkpoint it
// waits as long as the checkpoint took): a shutdown then has only what
// changed since to write. Work that has waited longer than
// checkpointAheadLag (a machine kept busy) runs without the pauses, so that
// what a shutdown finds stays bounded. (Not on a thread at a low OS
// priority: a goroutine there holds one of the runtime's Ps while the kernel
// does not run it, which stalls the garbage collector's stop-the-world and
// every request for as long: health checks then time out on a busy machine.)

// checkpointAheadEvery is how often the background checkpointer looks for
// parked processes whose state moved since their last checkpoint.
const checkpointAheadEvery = 500 * time.Millisecond

// checkpointAheadLag is how long a parked process may wait for its
// checkpoint before the background checkpointer stops pausing.
const checkpointAheadLag = 2 * time.Second

// checkpointAhead runs until the engine stops: with CheckpointOptions.Ahead
// it checkpoints parked processes; when none is left, it adds the memories'
// sha256 to file checkpoints while the CU is idle. Owned by e.wg.
func (e *Engine) checkpointAhead() {
	t := time.NewTicker(checkpointAheadEvery)
	defer t.Stop()
	swept := time.Now()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(swept) >= baseSweepEvery {
			e.sweepBaseFiles()
			swept = time.Now()
		}
		var behind []*proc
		var oldest time.Time
		if e.cp().Ahead {
			behind, oldest = e.behindCheckpoint()
		}
		if len(behind) == 0 {
			e.addMemoryHashes()
			continue
		}
		late := time.Since(oldest) > checkpointAheadLag
		for _, p := range behind {
			start := time.Now()
			e.checkpointIdle(p)
			pause := time.Since(start)
			if late {
				pause = 0
			}
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(pause):
			}
		}
	}
}

// baseSweepEvery is how often the base images' files no file checkpoint
// needs any more are removed while the CU runs (processes whose checkpoints
// move to another base leave them; a start removes them too).
const baseSweepEvery = 10 * time.Minute

// sweepBaseFiles removes the base images' files that no file checkpoint of
// the checkpoint directory is a delta against (reading the header of every
// checkpoint: ~10,000 small reads for 10,000 processes), waiting for the
// checkpoints being written.
func (e *Engine) sweepBaseFiles() {
	dir := e.cp().FileDir
	if dir == "" {
		return
	}
	e.baseFiles.Lock()
	defer e.baseFiles.Unlock()
	e.sweepBases(dir, func(dir, name, why string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			e.log.Warn("could not remove a base image's file", "file", name, "err", err)
			return
		}
		e.log.Info("removed a base image's file", "file", name, "why", why)
	})
}

// behindCheckpoint lists the idle processes whose image is ahead of their
// last file checkpoint, least recently used first (the least likely to
// change again before the shutdown).
func (e *Engine) behindCheckpoint() (out []*proc, oldest time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	first := int64(0)
	for _, p := range e.procs {
		if !p.live.Load() && !p.running.Load() && p.aheadOfCheckpoint.Load() {
			out = append(out, p)
			if since := p.aheadSince.Load(); first == 0 || since < first {
				first = since
			}
		}
	}
	slices.SortFunc(out, func(a, b *proc) int { return cmp.Compare(a.used.Load(), b.used.Load()) })
	return out, time.Unix(0, first)
}

// checkpointIdle writes idle p's file checkpoint from its image, unless p
// is in use (it is tried again later) or live again.
func (e *Engine) checkpointIdle(p *proc) {
	select {
	case p.lock <- struct{}{}:
	default:
		return
	}
	defer p.release()
	if p.inst != nil {
		return // live again: parked later, or checkpointed at the shutdown
	}
	var err error
	switch {
	case p.img != nil:
		err = e.writeCachedCheckpoint(e.ctx, p)
	case p.drainFile != "":
		err = e.writeDrainedCheckpoint(e.ctx, p)
	}
	if err != nil && e.ctx.Err() == nil {
		e.log.Warn("background file checkpoint failed; the shutdown writes it", "process", p.id, "err", err)
	}
	p.aheadOfCheckpoint.Store(false) // failed: left to the shutdown
}

// memoryHashIdle is how long the CU must have had no request before the
// background checkpointer adds the memories' sha256 to file checkpoints.
const memoryHashIdle = time.Second

// idle reports whether no request is pending and none began within
// memoryHashIdle.
func (e *Engine) idle() bool {
	e.mu.Lock()
	n := len(e.calls)
	e.mu.Unlock()
	return n == 0 && time.Since(time.Unix(0, e.lastCall.Load())) >= memoryHashIdle
}

// addMemoryHashes records the memory's sha256 in the file checkpoints
// written without it, one process at a time while the CU stays idle.
func (e *Engine) addMemoryHashes() {
	var due []*proc
	e.mu.Lock()
	for _, p := range e.procs {
		if p.memoryHashDue.Load() {
			due = append(due, p)
		}
	}
	e.mu.Unlock()
	for _, p := range due {
		if e.ctx.Err() != nil || !e.idle() {
			return
		}
		if err := e.addMemoryHash(p); err != nil && e.ctx.Err() == nil {
			e.log.Warn("could not add the memory's sha256 to a file checkpoint", "process", p.id, "err", err)
		}
	}
}

// addMemoryHash adds the memory's sha256 to p's file checkpoint record,
// computed from the recorded file (its bytes checked first), unless p is in
// use (tried again later).
func (e *Engine) addMemoryHash(p *proc) error {
	select {
	case p.lock <- struct{}{}:
	default:
		return nil
	}
	defer p.release()
	cp := e.cp()
	fc, err := cp.Store.FindFileCheckpoint(e.ctx, p.id)
	if errors.Is(err, ao.ErrNotFound) {
		p.memoryHashDue.Store(false)
		return nil
	}
	if err != nil {
		return err
	}
	if fc.Evaluation.SHA256 != "" {
		p.memoryHashDue.Store(false)
		return nil
	}
	path := filepath.Join(cp.FileDir, filepath.Base(fc.File))
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := checkFileHash(b, fc.Evaluation.FileSHA256); err != nil {
		return err
	}
	im, err := e.parseCheckpointFile(cp.FileDir, b)
	if err != nil {
		return err
	}
	sum := im.SHA256()
	fc.Evaluation.SHA256 = hex.EncodeToString(sum[:])
	if err := cp.Store.SaveFileCheckpoint(e.ctx, fc); err != nil {
		return err
	}
	p.memoryHashDue.Store(false)
	return nil
}
