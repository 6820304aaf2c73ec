package engine

import (
	"context"
	"os"
	"strconv"
	"sync"

	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/memimage"
)

// Dry-runs on idle processes. Most processes of a CU are idle: their memory
// is a compact image in the memory cache or on file, and only
// WASM_INSTANCE_CACHE_MAX_SIZE of them are live. A dry-run on an idle
// process needs its state at the SU's latest; when the SU has nothing after
// the image (the common case: a process is read far more often than it is
// written), the image is that state, and the dry-run runs on a scratch fork
// of the module loaded with it (ao.ImageForker): no restore, no instance for
// the process, no memory capture, and the live set is left alone. When the
// SU has messages after the image, the process is restored and brought to
// the latest as before (the stream reads its pages itself).
//
// Same semantics as the restore path: the SU is asked for what follows the
// image unless the process was brought to the latest within
// min(x-max-age, DRY_RUN_PROCESS_CACHE_TTL) (as for a live process); the
// dry-run message takes its Timestamp and Block-Height from the image's
// position; the fork is loaded with exactly the memory a restored instance
// would hold, and runs as on a fresh instance.

// scratchPool keeps idle scratch forks by compiled module, at most max in
// all. The engine owns it and closes it with the engine.
type scratchPool struct {
	mu     sync.Mutex
	free   map[ao.CompiledModule][]ao.Fork
	n      int
	max    int
	closed bool
}

func (s *scratchPool) get(mod ao.CompiledModule) ao.Fork {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.free[mod]
	if len(l) == 0 {
		return nil
	}
	f := l[len(l)-1]
	s.free[mod] = l[:len(l)-1]
	s.n--
	return f
}

func (s *scratchPool) put(mod ao.CompiledModule, f ao.Fork) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.n >= s.max {
		f.Close()
		return
	}
	if s.free == nil {
		s.free = map[ao.CompiledModule][]ao.Fork{}
	}
	s.free[mod] = append(s.free[mod], f)
	s.n++
}

func (s *scratchPool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, l := range s.free {
		for _, f := range l {
			f.Close()
		}
	}
	s.free, s.n = nil, 0
}

// dryRunIdle evaluates a dry-run at the latest on p from its image when p
// is idle. done is false when it cannot (p is live or has no image, the
// module cannot fork images, the process has crons, the SU has messages
// after the image or could not be read: the caller restores the process;
// first is then nil, the stream reading its own pages). The SU is asked under p's lock but outside the dry-run workers
// (as the reference asks it before its dry-run pool); a worker is taken for
// loading the image and evaluating, after the lock is released: the image
// is immutable, and the answer is the state the SU was checked against.
func (e *Engine) dryRunIdle(ctx context.Context, p *proc, body dryRunBody, req DryRunRequest) (res *ao.Result, first *specPage, done bool, err error) {
	if e.opts.HyperBEAM || e.noScratch.Load() {
		return nil, nil, false, nil
	}
	if err := p.acquire(ctx); err != nil {
		return nil, nil, true, err
	}
	img, base, at, meta, first, ok, err := e.idleState(ctx, p, req)
	if ok {
		// Recency only: an idle process's dry-run changes no bound, so the
		// scan of every process (evict) waits for the next change or the
		// janitor.
		p.used.Store(e.opts.Now().UnixNano())
	}
	p.release()
	if err != nil || !ok {
		return nil, first, err != nil, err
	}
	forker := meta.mod.(ao.ImageForker)
	msg := body.message(p.id, at)
	if err := e.acquireDryRunWorker(ctx); err != nil {
		return nil, nil, true, err
	}
	defer func() { <-e.dryRun }()
	f, err := forker.ForkImage(ctx, ao.InstanceOptions{Memory: img, Base: base, GasLimit: float64(meta.computeLimit)}, e.scratch.get(meta.mod))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, true, ctx.Err()
		}
		if e.noScratch.CompareAndSwap(false, true) {
			e.log.Warn("dry-runs on idle processes cannot load their images into scratch forks here; they restore the processes from now on", "process", p.id, "err", err)
		}
		return nil, nil, false, nil
	}
	res, err = f.DryRun(ctx, msg, meta.env, e.opts.DryRunTimeout)
	e.scratch.put(meta.mod, f)
	return res, nil, true, e.dryRunErr(req.ProcessID, err)
}

// idleState returns idle p's image (with the base image it is a delta
// against, or nil), its position and p's meta when the image is the state at
// the SU's latest (ok), else perhaps the SU's page after it. Caller holds
// p.lock.
func (e *Engine) idleState(ctx context.Context, p *proc, req DryRunRequest) (img []byte, base *memimage.Base, at position, meta *procMeta, first *specPage, ok bool, err error) {
	if p.inst != nil {
		return nil, nil, at, nil, nil, false, nil
	}
	img, base, at, ok = e.peekIdleImage(p)
	if !ok || at.cold || at != p.pos {
		return nil, nil, at, nil, nil, false, nil
	}
	if meta, err = e.loadMeta(ctx, p); err != nil {
		return nil, nil, at, nil, nil, false, err
	}
	if _, ok := meta.mod.(ao.ImageForker); !ok || !meta.crons.Empty() {
		return nil, nil, at, nil, nil, false, nil
	}
	now := e.opts.Now()
	if p.syncedAt.IsZero() || now.Sub(p.syncedAt) > min(req.MaxAge, e.opts.DryRunProcessCacheTTL) {
		from := strconv.FormatInt(at.Timestamp, 10)
		page, err := e.opts.Scheduler.Messages(ctx, meta.suURL, p.id, from, "", e.opts.PageSize)
		if err != nil {
			return nil, nil, at, nil, nil, false, nil // the stream asks again and reports it
		}
		if len(page.Edges) > 0 {
			// (the stream reads its own first page: a page it would
			// refuse, from a faulty SU, is not reused)
			return nil, nil, at, nil, nil, false, nil
		}
		p.syncedAt = now
	}
	return img, base, at, meta, nil, true, nil
}

// peekIdleImage returns idle p's image (from the memory cache or its file),
// the base image it is a delta against (nil: not a delta) and its position,
// without changing where p is kept. Caller holds p.lock.
func (e *Engine) peekIdleImage(p *proc) ([]byte, *memimage.Base, position, bool) {
	if p.img != nil {
		return p.img, p.imgBase, p.imgPos, true
	}
	if p.drainFile == "" {
		return nil, nil, position{}, false
	}
	b, err := os.ReadFile(p.drainFile)
	if err != nil {
		return nil, nil, position{}, false // the restore path reports it
	}
	return b, p.drainBase, p.drainPos, true
}
