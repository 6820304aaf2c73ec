package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aocu/aocu/internal/ao"
)

// Dry-runs on forks. When the runtime's instance is an ao.Forker, a dry-run
// does not run on the process's instance under its lock: the committed
// memory is captured once per state as an image, and the dry-run runs on a
// fork of it (a pooled instance mapping the image copy-on-write), outside the
// process lock. So dry-runs of one process run in parallel (up to the dry-run
// workers), beside its scheduled messages, and never touch its state. /state
// streams the same image.

// dryPool is a process's current image and its idle forks.
type dryPool struct {
	mu      sync.Mutex
	inst    ao.Instance // the instance the image was captured from
	version uint64      // proc.version at the capture
	img     *sharedImage
	free    []idleFork
	max     int
	closed  bool
}

type idleFork struct {
	f   ao.Fork
	img *sharedImage // the image it maps
}

// sharedImage is an image with a reference count: the pool holds one while
// the image is current, each dry-run or /state answer using it one more.
type sharedImage struct {
	ao.Image
	refs atomic.Int64
}

func newSharedImage(img ao.Image) *sharedImage {
	s := &sharedImage{Image: img}
	s.refs.Store(1)
	return s
}

// acquire takes a reference unless the image is already released.
func (s *sharedImage) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *sharedImage) release() {
	if s.refs.Add(-1) == 0 {
		s.Image.Release()
	}
}

// currentImage returns p's image of its committed state, captured now if the
// state moved on, with a reference for the caller; nil when the instance
// cannot be forked. Caller holds p.lock.
func (e *Engine) currentImage(p *proc) (*dryPool, *sharedImage) {
	forker, ok := p.inst.(ao.Forker)
	if !ok || p.inst == nil || e.noForks.Load() {
		return nil, nil
	}
	if p.dry == nil {
		p.dry = &dryPool{max: e.opts.DryRunWorkers}
	}
	pool := p.dry
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.img == nil || pool.inst != p.inst || pool.version != p.version {
		img, err := forker.Image()
		if err != nil {
			e.log.Debug("no memory image for dry-run forks", "process", p.id, "err", err)
			return nil, nil
		}
		if pool.img != nil {
			pool.img.release()
		}
		pool.img, pool.inst, pool.version = newSharedImage(img), p.inst, p.version
	}
	pool.img.acquire() // the pool's reference keeps it alive until here
	return pool, pool.img
}

// fork returns an idle fork for img: preferably one that maps it already,
// else one re-pointed, else a new one. The image decides (a fork a dry-run
// closed is replaced).
func (pool *dryPool) fork(ctx context.Context, img *sharedImage) (ao.Fork, error) {
	pool.mu.Lock()
	var reuse ao.Fork
	for i, f := range pool.free {
		if f.img == img || i == len(pool.free)-1 {
			reuse = f.f
			pool.free = append(pool.free[:i], pool.free[i+1:]...)
			break
		}
	}
	pool.mu.Unlock()
	f, err := img.Fork(ctx, reuse)
	if err != nil {
		return nil, fmt.Errorf("fork for a dry-run: %w", err)
	}
	return f, nil
}

// put returns a fork after a dry-run.
func (pool *dryPool) put(f ao.Fork, img *sharedImage) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.closed || len(pool.free) >= pool.max {
		f.Close()
		return
	}
	pool.free = append(pool.free, idleFork{f, img})
}

// close releases the forks and the image (the process's instance goes).
// Forks in use are closed when they come back. Caller holds p.lock.
func (pool *dryPool) close() {
	if pool == nil {
		return
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	pool.closed = true
	for _, f := range pool.free {
		f.f.Close()
	}
	pool.free = nil
	if pool.img != nil {
		pool.img.release()
		pool.img = nil
	}
}
