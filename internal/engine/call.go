package engine

import (
	"github.com/aocu/aocu/internal/ao"
	"github.com/aocu/aocu/internal/lru"

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
	e.lastCall.Store(time.Now().UnixNano())
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

// newAnswerCache bounds /result answers by their bytes (results are
// immutable once stored, so entries never go stale).
func newAnswerCache(max int64) *lru.Cache[string, []byte] {
	return lru.New[string, []byte](max, nil)
}

// cacheResult keeps one answer unless it is a large share of the cache.
func cacheResult(c *lru.Cache[string, []byte], key string, val []byte) {
	if int64(len(val)) <= c.Max()/4 {
		c.Put(key, val, int64(len(key)+len(val)), 0)
	}
}
