package mu

import (
	"context"
	"testing"
)

func claimIDs(t *testing.T, s *store, now int64) []string {
	t.Helper()
	ts, _, err := s.claimable(context.Background(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, x := range ts {
		keys = append(keys, x.Key)
	}
	return keys
}

func TestStoreQueue(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	lim := limits{maxDepth: 3, maxItemsPerRoot: 3}
	msg := func(key, lane string, depth int) newTask {
		return newTask{Key: key, Kind: kindMessage, Lane: lane, Root: "r", Depth: depth, Payload: payload{Process: "p"}}
	}
	n, drops, err := s.add(ctx, 10, lim, []newTask{
		msg("a", "B", 1), msg("b", "B", 1), msg("c", "C", 1),
		msg("a", "B", 1), // same key: ignored
		msg("deep", "D", 4),
		resultTask("P", "M", "", "r", 9), // results are not bounded
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || len(drops) != 1 || drops[0].Reason != "max_depth" {
		t.Fatalf("inserted %d, drops %+v", n, drops)
	}
	// Lane B runs in order: only its head is claimable.
	if got := claimIDs(t, s, 10); len(got) != 3 || got[0] != "a" || got[1] != "c" || got[2] != "result/P/M" {
		t.Fatalf("claimable %v", got)
	}
	// The root holds 3 pushes already: a fourth is dropped.
	if _, drops, err = s.add(ctx, 10, lim, []newTask{msg("d", "E", 1)}); err != nil || len(drops) != 1 || drops[0].Reason != "max_items" {
		t.Fatalf("drops %+v %v", drops, err)
	}
	a, _, _, err := s.taskByKey(ctx, "a")
	if err != nil || a == nil {
		t.Fatal(a, err)
	}
	// A recorded item is kept: a second record returns the first.
	item, id, err := s.setItem(ctx, a.ID, []byte("one"), "id1", 11)
	if err != nil || string(item) != "one" || id != "id1" {
		t.Fatal(string(item), id, err)
	}
	if item, id, _ = s.setItem(ctx, a.ID, []byte("two"), "id2", 11); string(item) != "one" || id != "id1" {
		t.Fatalf("re-recorded: %s %s", item, id)
	}
	// A retry later: the lane waits for its head.
	if err := s.retry(ctx, a.ID, 1, 100, 11, "boom"); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, s, 50); len(got) != 2 || got[0] != "c" {
		t.Fatalf("claimable while a waits: %v", got)
	}
	if _, next, _ := s.claimable(ctx, 50, 100); next != 100 {
		t.Fatalf("next due %d", next)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: everything is still there.
	s, err = openStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if got := claimIDs(t, s, 100); len(got) != 3 || got[0] != "a" {
		t.Fatalf("after reopen %v", got)
	}
	a, _, _, _ = s.taskByKey(ctx, "a")
	if string(a.Item) != "one" || a.Attempts != 1 {
		t.Fatalf("after reopen: %+v", a)
	}
	if _, err := s.finish(ctx, a.ID, "id1", 101, lim, []newTask{resultTask("B", "id1", "", "r", 1)}); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, s, 101); len(got) != 4 || got[0] != "b" {
		t.Fatalf("after a is done %v", got)
	}
	if n, _ := s.pending(ctx); n != 4 {
		t.Fatalf("pending %d", n)
	}
	// revive: a finished message is queued again with its item.
	if existed, _, err := s.revive(ctx, 102, lim, msg("a", "B", 1)); err != nil || !existed {
		t.Fatal(existed, err)
	}
	a, state, _, _ := s.taskByKey(ctx, "a")
	if state != statePending || string(a.Item) != "one" || a.Attempts != 0 {
		t.Fatalf("revived %+v state %d", a, state)
	}
}
