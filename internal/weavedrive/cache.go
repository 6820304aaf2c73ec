package weavedrive

import "github.com/aocu/aocu/internal/lru"

// entryOverhead is the cost charged to every cache entry on top of its key and value bytes.
const entryOverhead = 96

// cache is a least-recently-used cache bounded by the total bytes of its keys and values; a nil *cache
// caches nothing.
type cache = lru.Cache[string, any]

func newLRU(maxBytes int64) *cache { return lru.New[string, any](maxBytes, nil) }

// put stores val under key with the given size in bytes; a value larger than the whole cache is not stored.
func put(c *cache, key string, val any, size int64) {
	c.Put(key, val, size+int64(len(key))+entryOverhead, 0)
}
