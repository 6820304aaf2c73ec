package weavedrive

import (
	"container/list"
	"sync"
)

// entryOverhead is the cost charged to every cache entry on top of its key and value bytes.
const entryOverhead = 96

// lru is a least-recently-used cache bounded by the total bytes of its keys and values. It is safe for
// concurrent use. A nil *lru caches nothing.
type lru struct {
	mu    sync.Mutex
	max   int64
	used  int64
	ll    *list.List // front = most recently used
	items map[string]*list.Element
}

type lruEntry struct {
	key  string
	val  any
	cost int64
}

func newLRU(maxBytes int64) *lru {
	if maxBytes <= 0 {
		return nil
	}
	return &lru{max: maxBytes, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *lru) get(key string) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		return el.Value.(*lruEntry).val, true
	}
	return nil, false
}

// put stores val under key with the given size in bytes; a value larger than the whole cache is not stored.
func (c *lru) put(key string, val any, size int64) {
	if c == nil {
		return
	}
	cost := size + int64(len(key)) + entryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry)
		c.used -= e.cost
		c.ll.Remove(el)
		delete(c.items, key)
	}
	if cost > c.max {
		return
	}
	c.items[key] = c.ll.PushFront(&lruEntry{key: key, val: val, cost: cost})
	c.used += cost
	for c.used > c.max {
		el := c.ll.Back()
		e := el.Value.(*lruEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.used -= e.cost
	}
}
