package engine

import (
	"sync"
	"sync/atomic"
)

// memAccount keeps the totals the memory bounds are checked against, so
// that using a process does not scan every process (at 10,000 processes the
// scan cost more than the bounds it checked): the bytes of live instances,
// of images in the memory cache, and the set of live processes (a handful:
// WASM_INSTANCE_CACHE_MAX_SIZE), whose least recently used is parked first.
// A process's own figures stay in its atomics (live, size, cached), written
// only through these methods while the process is in the engine's table.
type memAccount struct {
	liveBytes, cachedBytes atomic.Int64

	mu   sync.Mutex
	live map[*proc]struct{}
}

// setLive records whether p has a live instance.
func (a *memAccount) setLive(p *proc, live bool) {
	if p.live.Swap(live) == live || a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if live {
		if a.live == nil {
			a.live = map[*proc]struct{}{}
		}
		a.live[p] = struct{}{}
	} else {
		delete(a.live, p)
	}
}

// setSize records the bytes of p's live instance (0: none).
func (a *memAccount) setSize(p *proc, n int64) {
	if old := p.size.Swap(n); a != nil {
		a.liveBytes.Add(n - old)
	}
}

// setCached records the bytes of p's image in the memory cache (0: none).
func (a *memAccount) setCached(p *proc, n int64) {
	if old := p.cached.Swap(n); a != nil {
		a.cachedBytes.Add(n - old)
	}
}

// total is the bytes of live instances and cached images.
func (a *memAccount) total() int64 { return a.liveBytes.Load() + a.cachedBytes.Load() }

// liveLRU returns how many processes are live and the least recently used.
func (a *memAccount) liveLRU() (n int, lru *proc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p := range a.live {
		if lru == nil || p.used.Load() < lru.used.Load() {
			lru = p
		}
	}
	return len(a.live), lru
}
