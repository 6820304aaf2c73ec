package engine

import (
	"github.com/aocu/aocu/internal/ao"

	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// ErrBusy is returned when an evaluation outlasts the busy threshold; it goes
// on in the background.
var ErrBusy = errors.New("evaluation in progress")

// call is one evaluation shared by identical requests.
type call struct {
	done chan struct{}
	val  any
	err  error
}

// share runs fn once for all concurrent callers with the same key. fn runs
// under the engine's context, not the caller's: a client that goes away, or a
// busy answer, does not stop an evaluation (its results are stored). The
// caller waits for the result, its context, or busy (0: no limit), whichever
// comes first.
func (e *Engine) share(ctx context.Context, key string, busy time.Duration, fn func(ctx context.Context) (any, error)) (any, error) {
	e.mu.Lock()
	c := e.calls[key]
	if c == nil {
		c = &call{done: make(chan struct{})}
		e.calls[key] = c
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			c.val, c.err = fn(e.ctx)
			e.mu.Lock()
			delete(e.calls, key)
			e.mu.Unlock()
			close(c.done)
		}()
	}
	e.mu.Unlock()
	var timer <-chan time.Time
	if busy > 0 {
		t := time.NewTimer(busy)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.ctx.Done():
		return nil, ao.Errorf(503, "the compute unit is shutting down")
	case <-timer:
		return nil, ErrBusy
	}
}

// resultCache is a small TTL cache of dry-run results.
type resultCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cachedResult
}

type cachedResult struct {
	out []byte
	at  time.Time
}

func newResultCache(max int) *resultCache {
	return &resultCache{max: max, m: map[string]cachedResult{}}
}

func (c *resultCache) get(key string, maxAge time.Duration, now time.Time) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	if !ok || now.Sub(r.at) > maxAge {
		delete(c.m, key)
		return nil, false
	}
	return r.out, true
}

func (c *resultCache) put(key string, out []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		var oldest string
		var at time.Time
		for k, v := range c.m {
			if oldest == "" || v.at.Before(at) {
				oldest, at = k, v.at
			}
		}
		delete(c.m, oldest)
	}
	c.m[key] = cachedResult{out, now}
}

// lruBytes is a size-bounded LRU of byte values (results are immutable once
// stored, so entries never go stale).
type lruBytes struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // front: most recent
	items map[string]*list.Element
}

type lruEntry struct {
	key string
	val []byte
}

func newLRUBytes(max int) *lruBytes {
	return &lruBytes{max: max, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lruBytes) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).val, true
}

func (c *lruBytes) put(key string, val []byte) {
	if len(val) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key, val})
	c.size += len(key) + len(val)
	for c.size > c.max {
		el := c.order.Back()
		ent := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.items, ent.key)
		c.size -= len(ent.key) + len(ent.val)
	}
}
