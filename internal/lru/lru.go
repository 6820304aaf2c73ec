// Package lru is a least-recently-used cache bounded by the total cost of its
// entries (a count when every cost is 1, bytes when the cost is a size), with
// an optional expiry per entry. It is safe for concurrent use; a nil *Cache
// caches nothing. It does no I/O.
package lru

import (
	"container/list"
	"sync"
	"time"
)

// Cache maps keys to values, evicting the least recently used entries while
// the total cost exceeds its bound.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int64
	used  int64
	ll    *list.List // front: most recently used
	items map[K]*list.Element
	now   func() time.Time
}

type entry[K comparable, V any] struct {
	key     K
	val     V
	cost    int64
	expires time.Time // zero: never
}

// New makes a cache whose entries' costs add up to at most max; max <= 0
// gives nil, a cache that keeps nothing. now is the clock for expiry
// (time.Now if nil).
func New[K comparable, V any](max int64, now func() time.Time) *Cache[K, V] {
	if max <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[K, V]{max: max, ll: list.New(), items: map[K]*list.Element{}, now: now}
}

// Get returns the value of key, unless absent or expired.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*entry[K, V])
	if !e.expires.IsZero() && !c.now().Before(e.expires) {
		c.remove(el)
		return zero, false
	}
	c.ll.MoveToFront(el)
	return e.val, true
}

// Put stores val under key at the given cost, replacing an older value, for
// ttl (0: until evicted; negative: not stored). A value costing more than the
// whole cache is not stored.
func (c *Cache[K, V]) Put(key K, val V, cost int64, ttl time.Duration) {
	if c == nil || ttl < 0 || cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	e := &entry[K, V]{key: key, val: val, cost: cost}
	if ttl > 0 {
		e.expires = c.now().Add(ttl)
	}
	c.items[key] = c.ll.PushFront(e)
	c.used += cost
	for c.used > c.max {
		c.remove(c.ll.Back())
	}
}

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func (c *Cache[K, V]) remove(el *list.Element) {
	e := el.Value.(*entry[K, V])
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.used -= e.cost
}

// Max returns the cache's bound (0 for a nil cache).
func (c *Cache[K, V]) Max() int64 {
	if c == nil {
		return 0
	}
	return c.max
}
