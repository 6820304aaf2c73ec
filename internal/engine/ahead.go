package engine

import (
	"cmp"
	"slices"
	"time"
)

// Checkpoints ahead of a shutdown. SIGTERM and SIGUSR2 write a file
// checkpoint of every process whose state moved since its last one; most of
// that cost is the sha256 of the whole linear memory that the checkpoint
// records (60 ms for an aos process's 110 MB on a quiet core here, 150–350
// ms on this shared VM; zeros included, whatever the image holds: SHA-256
// has no shortcut over them), so a thousand changed processes take minutes
// of CPU there.
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

// checkpointAhead runs until the engine stops. Owned by e.wg.
func (e *Engine) checkpointAhead() {
	t := time.NewTicker(checkpointAheadEvery)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		behind, oldest := e.behindCheckpoint()
		late := len(behind) > 0 && time.Since(oldest) > checkpointAheadLag
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
