package lru

import (
	"testing"
	"time"
)

func TestEvictsLeastRecentlyUsedByCost(t *testing.T) {
	c := New[string, string](10, nil)
	c.Put("a", "A", 4, 0)
	c.Put("b", "B", 4, 0)
	if _, ok := c.Get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.Put("c", "C", 4, 0) // 12 > 10: b goes
	if _, ok := c.Get("b"); ok {
		t.Fatal("b kept")
	}
	if v, ok := c.Get("a"); !ok || v != "A" {
		t.Fatal("a evicted")
	}
	c.Put("huge", "H", 11, 0)
	if _, ok := c.Get("huge"); ok || c.Len() != 2 {
		t.Fatalf("an entry larger than the cache was stored (len %d)", c.Len())
	}
	c.Put("a", "A2", 1, 0) // replacing frees the old cost
	if v, _ := c.Get("a"); v != "A2" || c.used != 5 {
		t.Fatalf("replace: %q used %d", v, c.used)
	}
}

func TestExpiry(t *testing.T) {
	now := time.Unix(100, 0)
	c := New[int, int](5, func() time.Time { return now })
	c.Put(1, 1, 1, time.Second)
	c.Put(2, 2, 1, 0)
	c.Put(3, 3, 1, -1)
	now = now.Add(999 * time.Millisecond)
	if _, ok := c.Get(1); !ok {
		t.Fatal("expired early")
	}
	now = now.Add(time.Millisecond)
	if _, ok := c.Get(1); ok {
		t.Fatal("not expired")
	}
	if _, ok := c.Get(2); !ok {
		t.Fatal("no-ttl entry expired")
	}
	if _, ok := c.Get(3); ok {
		t.Fatal("negative ttl stored")
	}
}

func TestNilCache(t *testing.T) {
	var c *Cache[string, int] = New[string, int](0, nil)
	c.Put("x", 1, 1, 0)
	if _, ok := c.Get("x"); ok || c.Len() != 0 {
		t.Fatal("nil cache stored")
	}
}
